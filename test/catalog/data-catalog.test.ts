import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProjectConfig } from '../../src/catalog/config-loader.js';
import { DataCatalog } from '../../src/catalog/data-catalog.js';
import { CatalogConfigError, ParameterNotFoundError } from '../../src/catalog/errors.js';
import { compilePattern, matchPattern, sortPatterns } from '../../src/catalog/patterns.js';
import { AbstractDataset } from '../../src/datasets/abstract-dataset.js';
import { DatasetError, DatasetNotFoundError } from '../../src/datasets/errors.js';
import { MemoryDataset } from '../../src/datasets/memory.js';
import { DatasetRegistry } from '../../src/datasets/registry.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/catalog/project', import.meta.url));
const SECRET = 'hunter2-do-not-print';

let projectDir: string;
beforeEach(async () => {
  projectDir = await mkdtemp(join(tmpdir(), 'data-catalog-'));
  await cp(FIXTURE, projectDir, { recursive: true });
});
afterEach(async () => {
  await rm(projectDir, { recursive: true, force: true });
});

async function fixtureCatalog(registry = new DatasetRegistry()): Promise<DataCatalog> {
  const config = await loadProjectConfig({
    projectDir,
    environment: { FIXTURE_DB_PASSWORD: SECRET },
  });
  return DataCatalog.fromConfig({ ...config, projectDir, registry });
}

describe('DataCatalog', () => {
  it('saves and loads declared datasets, resolving paths against the project', async () => {
    const catalog = await fixtureCatalog();
    await catalog.save('companies', [{ id: 1, name: 'a' }]);
    expect(await catalog.load('companies')).toEqual([{ id: 1, name: 'a' }]);
    expect(catalog.getDataset('companies')?.localPath?.()).toBe(
      join(projectDir, 'data/local/companies.csv'),
    );
    expect(await catalog.exists('companies')).toBe(true);
    expect(catalog.isPersisted('companies')).toBe(true);
  });

  it('saves versioned datasets and loads the latest', async () => {
    const catalog = await fixtureCatalog();
    await catalog.save('regressor', { w: 1 });
    await catalog.save('regressor', { w: 2 });
    expect(await catalog.load('regressor')).toEqual({ w: 2 });
    expect(catalog.getDataset('regressor')?.localPath?.()).toMatch(
      /regressor\.json\/\d{4}-.*Z\/regressor\.json$/,
    );
  });

  it('loads params:a.b, parameters, and names a missing key with a suggestion', async () => {
    const catalog = await fixtureCatalog();
    expect(await catalog.load('params:model_options.test_size')).toBe(0.3);
    expect(await catalog.load('parameters')).toMatchObject({ seed: 3 });
    expect(catalog.has('params:model_options.features')).toBe(true);
    expect(catalog.has('params:nope')).toBe(false);
    const error = await catalog.load('params:model_options.test_sise').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParameterNotFoundError);
    expect((error as Error).message).toContain("Did you mean 'params:model_options.test_size'?");
  });

  it('returns copies of parameters so nodes cannot change them for others', async () => {
    const catalog = await fixtureCatalog();
    const features = (await catalog.load('params:model_options.features')) as string[];
    features.push('x');
    expect(await catalog.load('params:model_options.features')).toEqual(['engines', 'crew']);
    await expect(catalog.save('params:seed', 1)).rejects.toThrow(DatasetError);
  });

  it('resolves dataset patterns at lookup, most specific first, and keeps the instance', async () => {
    const catalog = await fixtureCatalog();
    expect(catalog.listPatterns()).toEqual(['{name}_text', '{namespace}.{name}', '{name}']);
    expect(catalog.getDataset('notes_text')?.describe()).toMatchObject({
      type: 'text.TextDataset',
      filepath: 'data/text/notes.txt',
    });
    expect(catalog.getDataset('reports.summary')?.describe()).toMatchObject({
      filepath: 'data/ns/reports/summary.json',
    });
    expect(catalog.getDataset('anything')?.persisted).toBe(false);
    expect(catalog.getDataset('anything')).toBe(catalog.getDataset('anything'));
    await catalog.save('notes_text', 'hi');
    expect(await catalog.load('notes_text')).toBe('hi');
    expect(catalog.listDatasets()).toContain('notes_text');
  });

  it('ranks patterns like Kedro: literal characters, then fewer placeholders, then name', () => {
    const sorted = sortPatterns(
      ['{a}', '{a}.{b}', 'x_{a}', '{a}_{b}_csv', 'pre_{a}_csv'].map((p) => compilePattern(p, {})),
    );
    expect(sorted.map((p) => p.pattern)).toEqual([
      'pre_{a}_csv',
      '{a}_{b}_csv',
      'x_{a}',
      '{a}.{b}',
      '{a}',
    ]);
    expect(matchPattern(sorted, 'pre_cars_csv')?.values).toEqual({ a: 'cars' });
    expect(matchPattern(sorted, 'a.b.c')?.values).toEqual({ a: 'a', b: 'b.c' });
  });

  it('withDatasets returns a new catalog and leaves this one unchanged', async () => {
    const catalog = new DataCatalog({}, { a: 1 });
    const extended = catalog.withDatasets({ extra: new MemoryDataset() });
    expect(extended).not.toBe(catalog);
    expect(extended.has('extra')).toBe(true);
    expect(catalog.has('extra')).toBe(false);
    await extended.save('extra', 5);
    expect(await extended.load('extra')).toBe(5);
    expect(extended.isPersisted('extra')).toBe(false);
    expect(extended.parameters).toEqual({ a: 1 });
  });

  it('names an unknown dataset with a did-you-mean', async () => {
    const catalog = new DataCatalog({ companies: new MemoryDataset() });
    const error = await catalog.load('companis').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetNotFoundError);
    expect((error as Error).message).toMatch(/'companis' not found.*Did you mean 'companies'\?/);
    expect(await catalog.exists('companis')).toBe(false);
  });

  it('never shows credential values in describe() or any error message', async () => {
    class LeakyDataset extends AbstractDataset<unknown> {
      readonly type = 'test.Leaky';
      readonly persisted = true;
      constructor(
        name: string,
        private readonly credentials: Record<string, unknown> | undefined,
      ) {
        super({ name });
      }
      protected async doLoad(): Promise<unknown> {
        throw new Error('connection refused');
      }
      protected async doSave(): Promise<void> {
        throw new Error(this.credentials ? 'auth failed' : 'no credentials');
      }
      protected async doExists(): Promise<boolean> {
        return false;
      }
      protected doDescribe(): Record<string, unknown> {
        return { user: this.credentials?.user };
      }
    }
    const registry = new DatasetRegistry().register(
      'test.Leaky',
      (_config, context) => new LeakyDataset(context.name, context.credentials),
    );
    const config = await loadProjectConfig({
      projectDir,
      environment: { FIXTURE_DB_PASSWORD: SECRET },
    });
    expect(JSON.stringify(config.credentials)).toContain(SECRET);
    const catalog = DataCatalog.fromConfig({
      ...config,
      catalog: { leaky: { type: 'test.Leaky', credentials: 'db' } },
      projectDir,
      registry,
    });
    const messages: string[] = [];
    for (const attempt of [() => catalog.load('leaky'), () => catalog.save('leaky', 1)]) {
      const error = (await attempt().catch((e: unknown) => e)) as Error;
      messages.push(error.message, JSON.stringify((error as DatasetError).description));
    }
    for (const bad of [
      { type: 'test.Leaky', credentials: 'dbx' },
      { type: 'json.JSONDataset', credentials: 'db' },
    ]) {
      try {
        DataCatalog.fromConfig({ ...config, catalog: { leaky: bad }, projectDir, registry });
      } catch (error) {
        messages.push((error as Error).message);
      }
    }
    messages.push(JSON.stringify(catalog.describeDatasets()));
    expect(messages.length).toBeGreaterThanOrEqual(6);
    for (const message of messages) expect(message).not.toContain(SECRET);
  });

  it('collects every invalid entry before failing', () => {
    try {
      DataCatalog.fromConfig({
        catalog: {
          a: { type: 'csv.CSVDataset' },
          b: { type: 'nope.Dataset', filepath: 'x' },
          c: { type: 'json.JSONDataset', filepath: 'c.json', extra: 1 },
        },
        projectDir,
        sources: {
          catalog: {
            a: 'conf/base/catalog.yml',
            b: 'conf/base/catalog.yml',
            c: 'conf/local/catalog.yml',
          },
        },
      });
      throw new Error('expected failure');
    } catch (error) {
      expect(error).toBeInstanceOf(CatalogConfigError);
      const { issues, message } = error as CatalogConfigError;
      expect(issues.map((issue) => issue.path.join('.'))).toEqual([
        'catalog.a.filepath',
        'catalog.b.type',
        'catalog.c.extra',
      ]);
      expect(message).toContain('(3 issues)');
      expect(message).toContain(
        '✖ missing filepath → at catalog.a.filepath (conf/base/catalog.yml)',
      );
      expect(message).toContain('conf/local/catalog.yml');
    }
  });
});
