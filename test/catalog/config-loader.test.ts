import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProjectConfig } from '../../src/catalog/config-loader.js';
import { parseRuntimeParams } from '../../src/catalog/runtime-params.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/catalog/project', import.meta.url));

let projectDir: string;
beforeEach(async () => {
  projectDir = await mkdtemp(join(tmpdir(), 'config-loader-'));
  await cp(FIXTURE, projectDir, { recursive: true });
});
afterEach(async () => {
  await rm(projectDir, { recursive: true, force: true });
});

describe('loadProjectConfig', () => {
  it('reads catalog*.yml and catalog/**, dropping _-prefixed anchor keys', async () => {
    const config = await loadProjectConfig({ projectDir, environment: {} });
    expect(Object.keys(config.catalog).sort()).toEqual(
      [
        '{name}',
        '{name}_text',
        '{namespace}.{name}',
        'companies',
        'model_input_table',
        'regressor',
        'secure_table',
      ].sort(),
    );
    expect(config.files.catalog).toEqual([
      'conf/base/catalog.yml',
      'conf/base/catalog/models.yml',
      'conf/local/catalog.yml',
    ]);
    expect(config.sources.catalog.regressor).toBe('conf/base/catalog/models.yml');
  });

  it('replaces a base catalog entry whole with the env entry (destructive merge)', async () => {
    const config = await loadProjectConfig({ projectDir, environment: {} });
    expect(config.catalog.companies).toEqual({
      type: 'csv.CSVDataset',
      filepath: 'data/local/companies.csv',
    });
    expect(config.sources.catalog.companies).toBe('conf/local/catalog.yml');
  });

  it('deep-merges env parameters over base (soft merge)', async () => {
    const config = await loadProjectConfig({ projectDir, environment: {} });
    expect(config.parameters.model_options).toEqual({
      test_size: 0.3,
      random_state: 3,
      features: ['engines', 'crew'],
    });
  });

  it('resolves globals (with defaults), same-file references and typed whole values', async () => {
    const config = await loadProjectConfig({ projectDir, env: 'prod', environment: {} });
    expect((config.catalog.companies as { filepath: string }).filepath).toBe(
      '/srv/raw/companies.csv',
    );
    expect((config.catalog['{namespace}.{name}'] as { filepath: string }).filepath).toBe(
      'data/ns/{namespace}/{name}.json',
    );
    expect(config.parameters.seed).toBe(3);
    expect(config.parameters.run_label).toBe('run-spaceflights');
    expect(config.globals.paths).toEqual({ raw: '/srv/raw', primary: 'data/03_primary' });
    expect(config.mlflow).toEqual({
      server: { mlflow_tracking_uri: 'mlruns' },
      tracking: { experiment: { name: 'spaceflights' } },
    });
  });

  it('resolves environment variables in credentials, with a default', async () => {
    const withVar = await loadProjectConfig({
      projectDir,
      environment: { FIXTURE_DB_PASSWORD: 's3cret' },
    });
    expect(withVar.credentials.db).toEqual({ user: 'admin', password: 's3cret' });
    const withoutVar = await loadProjectConfig({ projectDir, environment: {} });
    expect(withoutVar.credentials.db).toEqual({ user: 'admin', password: 'not-set' });
  });

  it('deep-merges runtime params over parameters last', async () => {
    const config = await loadProjectConfig({
      projectDir,
      runtimeParams: parseRuntimeParams('model_options.test_size=0.5,extra=x'),
    });
    expect(config.parameters.model_options).toMatchObject({ test_size: 0.5, random_state: 3 });
    expect(config.parameters.extra).toBe('x');
  });

  it('reads only conf/base for env base', async () => {
    const config = await loadProjectConfig({ projectDir, env: 'base', environment: {} });
    expect((config.parameters.model_options as { test_size: number }).test_size).toBe(0.2);
  });
});

describe('parseRuntimeParams', () => {
  it.each([
    ['a.b=1,c=x', { a: { b: 1 }, c: 'x' }],
    ['flag=true, n=null', { flag: true, n: null }],
    ["s='1'", { s: '1' }],
    ['a.b=1,a.c=2', { a: { b: 1, c: 2 } }],
    ['', {}],
  ])('parses %j', (text, expected) => {
    expect(parseRuntimeParams(text)).toEqual(expected);
  });
});
