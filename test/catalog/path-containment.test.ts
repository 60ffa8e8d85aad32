/**
 * Issue 13, bad input: dataset factory placeholders and runtime params must not put a dataset's
 * file outside the project (and the absolute locations the catalog declares).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadProjectConfig } from '../../src/catalog/config-loader.js';
import { DataCatalog } from '../../src/catalog/data-catalog.js';
import { CatalogConfigError } from '../../src/catalog/errors.js';
import { DatasetRegistry } from '../../src/datasets/registry.js';
import type { DatasetFactory } from '../../src/datasets/types.js';

let base: string;
let projectDir: string;
let shared: string;
beforeEach(async () => {
  // Everything stays under one temporary folder: an escape lands in `base`, never elsewhere.
  base = await mkdtemp(join(tmpdir(), 'containment-'));
  projectDir = join(base, 'project');
  shared = join(base, 'shared');
  await mkdir(join(projectDir, 'conf', 'base'), { recursive: true });
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function catalogFrom(
  catalogYaml: string,
  runtimeParams: Record<string, unknown> = {},
  registry?: DatasetRegistry,
): Promise<DataCatalog> {
  await writeFile(join(projectDir, 'conf', 'base', 'catalog.yml'), catalogYaml);
  const config = await loadProjectConfig({ projectDir, environment: {}, runtimeParams });
  return DataCatalog.fromConfig({ ...config, projectDir, ...(registry ? { registry } : {}) });
}

const outsideProject = async (): Promise<string[]> =>
  (await readdir(base)).filter((entry) => entry !== 'project');

const PATTERN = '"{name}_csv":\n  type: csv.CSVDataset\n  filepath: data/{name}.csv\n';

describe('dataset paths stay in the project', () => {
  test('a factory pattern given a name with .. is refused, naming the dataset and the path', async () => {
    const catalog = await catalogFrom(PATTERN);
    const name = '../../escaped_csv';
    const error = await catalog.save(name, [{ a: 1 }]).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'DatasetPathError',
      dataset: name,
      filepath: 'data/../../escaped.csv',
      resolvedPath: join(base, 'escaped.csv'),
    });
    expect((error as Error).message).toContain(
      `Dataset '${name}': filepath 'data/../../escaped.csv' resolves to ${join(base, 'escaped.csv')}, which is not inside the project folder ${projectDir}`,
    );
    expect(await outsideProject()).toEqual([]);
  });

  test('a factory pattern still serves names that stay inside the project', async () => {
    const catalog = await catalogFrom(PATTERN);
    await catalog.save('reports/q1_csv', [{ a: 1 }]);
    expect(existsSync(join(projectDir, 'data', 'reports', 'q1.csv'))).toBe(true);
    await catalog.save('x/../y_csv', [{ a: 1 }]); // climbs, but stays inside data/
    expect(existsSync(join(projectDir, 'data', 'y.csv'))).toBe(true);
  });

  test('a runtime param with .. in a filepath is refused when the catalog is built', async () => {
    const yaml =
      'scores:\n  type: json.JSONDataset\n  filepath: data/${runtime_params:run}/scores.json\n';
    const error = await catalogFrom(yaml, { run: '../../../outside' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatalogConfigError);
    expect((error as Error).message).toMatch(
      /Dataset 'scores': filepath 'data\/\.\.\/\.\.\/\.\.\/outside\/scores\.json' resolves to .*outside\/scores\.json, which is not inside the project folder/,
    );
    expect((error as Error).message).toContain(
      '→ at catalog.scores.filepath (conf/base/catalog.yml)',
    );
    expect((error as Error).cause).toMatchObject({ name: 'DatasetPathError', dataset: 'scores' });
  });

  test('an absolute runtime param spliced after an absolute folder cannot climb out of it', async () => {
    const yaml = `scores:\n  type: json.JSONDataset\n  filepath: ${shared}/\${runtime_params:run}/scores.json\n`;
    await expect(catalogFrom(yaml, { run: '../../etc' })).rejects.toThrow(
      /Dataset 'scores': filepath '.*\/shared\/\.\.\/\.\.\/etc\/scores\.json' resolves to/,
    );
  });

  test('an absolute path written in the catalog is a declared location and works', async () => {
    const file = join(shared, 'raw.csv');
    const catalog = await catalogFrom(`raw:\n  type: csv.CSVDataset\n  filepath: ${file}\n`);
    await catalog.save('raw', [{ a: 1 }]);
    expect(existsSync(file)).toBe(true);
  });

  test('a pattern under an absolute folder may place names inside that folder only', async () => {
    const catalog = await catalogFrom(
      `"{name}_shared":\n  type: json.JSONDataset\n  filepath: ${shared}/{name}.json\n`,
    );
    await catalog.save('inside_shared', { ok: true });
    expect(existsSync(join(shared, 'inside.json'))).toBe(true);
    await expect(catalog.save('../escaped_shared', { ok: false })).rejects.toMatchObject({
      name: 'DatasetPathError',
      dataset: '../escaped_shared',
      allowedRoots: [projectDir, shared],
    });
    expect(existsSync(join(base, 'escaped.json'))).toBe(false);
  });

  test('a dataset name that is itself an explicit absolute path declares its folder', async () => {
    const catalog = await catalogFrom(
      '"{name}_out":\n  type: json.JSONDataset\n  filepath: "{name}.json"\n',
    );
    const name = `${join(shared, 'preds')}_out`;
    await catalog.save(name, [1, 2]);
    expect(existsSync(join(shared, 'preds.json'))).toBe(true);
    await expect(catalog.save(`${shared}/../escaped_out`, [1])).rejects.toMatchObject({
      name: 'DatasetPathError',
    });
  });

  test('nested datasets built by a wrapper type are contained too', async () => {
    const wrapper: DatasetFactory = (config, context) =>
      context.build(config.dataset as Record<string, unknown>);
    const registry = new DatasetRegistry().register('test.Wrapper', wrapper);
    const yaml =
      '"{name}_wrapped":\n  type: test.Wrapper\n  dataset:\n    type: json.JSONDataset\n    filepath: data/{name}.json\n';
    const catalog = await catalogFrom(yaml, {}, registry);
    await expect(catalog.save('../../x_wrapped', {})).rejects.toMatchObject({
      name: 'DatasetPathError',
    });
    await catalog.save('fine_wrapped', {});
    expect(existsSync(join(projectDir, 'data', 'fine.json'))).toBe(true);
  });

  test('the catalog lists the allowed locations in the error', async () => {
    await mkdir(dirname(join(shared, 'x')), { recursive: true });
    const yaml = `raw:\n  type: csv.CSVDataset\n  filepath: ${shared}/raw.csv\n${PATTERN}`;
    const catalog = await catalogFrom(yaml);
    await expect(catalog.save('../../../etc/passwd_csv', [])).rejects.toThrow(
      `nor inside a location declared in the catalog (${join(shared, 'raw.csv')})`,
    );
  });
});
