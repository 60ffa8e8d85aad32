/**
 * Bad input: each case asserts the error class and that the message names the file, key or
 * dataset concerned.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadProjectConfig } from '../../src/catalog/config-loader.js';
import { DataCatalog } from '../../src/catalog/data-catalog.js';
import {
  CatalogConfigError,
  ConfigParseError,
  CredentialsNotFoundError,
  DuplicateConfigKeyError,
  InterpolationError,
  ParameterNotFoundError,
  RuntimeParamsError,
} from '../../src/catalog/errors.js';
import { parseRuntimeParams } from '../../src/catalog/runtime-params.js';
import {
  DatasetError,
  DatasetNotFoundError,
  UnknownDatasetTypeError,
  VersionNotFoundError,
} from '../../src/datasets/errors.js';

let projectDir: string;
beforeEach(async () => {
  projectDir = await mkdtemp(join(tmpdir(), 'bad-input-'));
});
afterEach(async () => {
  await rm(projectDir, { recursive: true, force: true });
});

async function writeConf(files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    const target = join(projectDir, 'conf', path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
  }
}

/** Loads config from `files` and builds the catalog. */
async function catalogFrom(
  files: Record<string, string>,
  environment: Record<string, string> = {},
): Promise<DataCatalog> {
  await writeConf(files);
  const config = await loadProjectConfig({ projectDir, environment });
  return DataCatalog.fromConfig({ ...config, projectDir });
}

const csvEntry = (extra = ''): string =>
  `companies:\n  type: csv.CSVDataset\n  filepath: data/companies.csv\n${extra}`;

interface BadCase {
  run: () => Promise<unknown>;
  error: new (...args: never[]) => Error;
  message: RegExp[];
}

const cases: Record<string, BadCase> = {
  'unknown dataset type': {
    run: () =>
      catalogFrom({ 'base/catalog.yml': 'companies:\n  type: csv.CSVDatset\n  filepath: a.csv\n' }),
    error: CatalogConfigError,
    message: [
      /Unknown dataset type 'csv.CSVDatset' for dataset 'companies'/,
      /Did you mean 'csv.CSVDataset'\?/,
      /conf\/base\/catalog.yml/,
    ],
  },
  'missing filepath': {
    run: () => catalogFrom({ 'base/catalog.yml': 'companies:\n  type: parquet.ParquetDataset\n' }),
    error: CatalogConfigError,
    message: [/✖ missing filepath → at catalog.companies.filepath \(conf\/base\/catalog.yml\)/],
  },
  'missing type': {
    run: () => catalogFrom({ 'base/catalog.yml': 'companies:\n  filepath: a.csv\n' }),
    error: CatalogConfigError,
    message: [/missing type → at catalog.companies.type/],
  },
  'unknown key in a dataset config': {
    run: () => catalogFrom({ 'base/catalog.yml': csvEntry('  load_arg:\n    sep: ";"\n') }),
    error: CatalogConfigError,
    message: [
      /unknown key 'load_arg' \(did you mean 'load_args'\?\) → at catalog.companies.load_arg/,
      /conf\/base\/catalog.yml/,
    ],
  },
  'unknown key inside load_args': {
    run: () => catalogFrom({ 'base/catalog.yml': csvEntry('  load_args:\n    sep: ";"\n') }),
    error: CatalogConfigError,
    message: [/unknown key 'sep'.* → at catalog.companies.load_args.sep/],
  },
  'wrong table option': {
    run: () => catalogFrom({ 'base/catalog.yml': csvEntry('  table: pandas\n') }),
    error: CatalogConfigError,
    message: [/→ at catalog.companies.table/, /"rows"\|"arrow"|'rows'|rows/],
  },
  'a catalog entry that is not a mapping': {
    run: () => catalogFrom({ 'base/catalog.yml': 'companies: data/companies.csv\n' }),
    error: CatalogConfigError,
    message: [
      /expected a mapping with a 'type'.* → at catalog.companies \(conf\/base\/catalog.yml\)/,
    ],
  },
  'a dataset named like a parameter': {
    run: () => catalogFrom({ 'base/catalog.yml': 'parameters:\n  type: MemoryDataset\n' }),
    error: CatalogConfigError,
    message: [/'parameters' is reserved/, /catalog.parameters/],
  },
  'unknown credentials key': {
    run: () =>
      catalogFrom({
        'base/catalog.yml': csvEntry('  credentials: dbx\n'),
        'base/credentials.yml': 'db:\n  token: t0ps3cret\n',
      }),
    error: CredentialsNotFoundError,
    message: [
      /unknown credentials key 'dbx' for dataset 'companies'/,
      /conf\/base\/credentials.yml/,
      /Did you mean 'db'\?/,
      /^(?![\s\S]*t0ps3cret)/,
    ],
  },
  'malformed YAML (with its line number)': {
    run: () => catalogFrom({ 'base/parameters.yml': 'a: 1\nb:\n  - x\n  y: 2\n' }),
    error: ConfigParseError,
    message: [/Malformed YAML in conf\/base\/parameters.yml at line 4/],
  },
  'a key repeated within one YAML file': {
    run: () => catalogFrom({ 'base/catalog.yml': `${csvEntry()}${csvEntry()}` }),
    error: ConfigParseError,
    message: [/conf\/base\/catalog.yml at line 4/, /[Uu]nique|duplicate/],
  },
  'a YAML file that is a list': {
    run: () => catalogFrom({ 'base/parameters.yml': '- a\n- b\n' }),
    error: ConfigParseError,
    message: [/conf\/base\/parameters.yml: expected a mapping/],
  },
  'a key defined by two files of one environment': {
    run: () => catalogFrom({ 'base/catalog.yml': csvEntry(), 'base/catalog_more.yml': csvEntry() }),
    error: DuplicateConfigKeyError,
    message: [/'companies'/, /conf\/base\/catalog.yml and conf\/base\/catalog_more.yml/],
  },
  'unresolved ${globals:...}': {
    run: () =>
      catalogFrom({
        'base/catalog.yml':
          'companies:\n  type: csv.CSVDataset\n  filepath: ${globals:paths.nope}/a.csv\n',
      }),
    error: InterpolationError,
    message: [/globals:paths.nope/, /at catalog.companies.filepath in conf\/base\/catalog.yml/],
  },
  'unresolved ${key} reference': {
    run: () => catalogFrom({ 'base/parameters.yml': 'a:\n  b: ${missing.key}\n' }),
    error: InterpolationError,
    message: [/no key 'missing.key'/, /at parameters.a.b in conf\/base\/parameters.yml/],
  },
  'a circular reference': {
    run: () => catalogFrom({ 'base/parameters.yml': 'a: ${b}\nb: ${a}\n' }),
    error: InterpolationError,
    message: [/circular reference/, /conf\/base\/parameters.yml/],
  },
  'an unknown resolver': {
    run: () => catalogFrom({ 'base/parameters.yml': 'a: ${oc.select:b}\n' }),
    error: InterpolationError,
    message: [/unknown resolver 'oc.select'/, /at parameters.a/],
  },
  'an environment variable outside credentials': {
    run: () => catalogFrom({ 'base/parameters.yml': 'token: ${oc.env:HOME}\n' }, { HOME: '/root' }),
    error: InterpolationError,
    message: [/only allowed in credentials/, /at parameters.token in conf\/base\/parameters.yml/],
  },
  'an unset environment variable without default': {
    run: () =>
      catalogFrom({ 'base/credentials.yml': 'db:\n  password: ${oc.env:NOT_SET_ANYWHERE}\n' }),
    error: InterpolationError,
    message: [
      /'NOT_SET_ANYWHERE' is not set/,
      /at credentials.db.password in conf\/base\/credentials.yml/,
    ],
  },
  'a params: key not found': {
    run: async () =>
      (await catalogFrom({ 'base/parameters.yml': 'model:\n  alpha: 1\n' })).load(
        'params:model.alhpa',
      ),
    error: ParameterNotFoundError,
    message: [/Parameter 'model.alhpa' not found/, /Did you mean 'params:model.alpha'\?/],
  },
  'bad runtime params syntax': {
    run: async () => parseRuntimeParams('a.b'),
    error: RuntimeParamsError,
    message: [/'a.b'/, /key=value/],
  },
  'a runtime param with an empty value': {
    run: async () => parseRuntimeParams('a=1,b='),
    error: RuntimeParamsError,
    message: [/'b' has no value/],
  },
  'a runtime param with a bad key': {
    run: async () => parseRuntimeParams('a..b=1'),
    error: RuntimeParamsError,
    message: [/key 'a..b'/],
  },
  'a pinned version that does not exist': {
    run: async () =>
      (
        await catalogFrom({
          'base/catalog.yml':
            'regressor:\n  type: model.ModelStateDataset\n  filepath: data/r.json\n  versioned: true\n  load_version: 2020-01-01T00.00.00.000Z\n',
        })
      ).load('regressor'),
    error: VersionNotFoundError,
    message: [/'regressor'/, /version '2020-01-01T00.00.00.000Z' not found/],
  },
  'a load of a dataset never saved': {
    run: async () => (await catalogFrom({ 'base/catalog.yml': csvEntry() })).load('companies'),
    error: DatasetError,
    message: [/'companies'/, /no data saved yet/, /data\/companies.csv/],
  },
  'a versioned load with no version saved': {
    run: async () =>
      (await catalogFrom({ 'base/catalog.yml': csvEntry('  versioned: true\n') })).load(
        'companies',
      ),
    error: VersionNotFoundError,
    message: [/'companies'/, /no version saved yet/],
  },
  'a name no pattern matches': {
    run: async () =>
      (
        await catalogFrom({
          'base/catalog.yml':
            '"{name}_csv":\n  type: csv.CSVDataset\n  filepath: data/{name}.csv\n',
        })
      ).load('cars_parquet'),
    error: DatasetNotFoundError,
    message: [/'cars_parquet' not found/, /patterns: \{name\}_csv/],
  },
  'an unknown dataset name': {
    run: async () => (await catalogFrom({ 'base/catalog.yml': csvEntry() })).save('companys', []),
    error: DatasetNotFoundError,
    message: [/'companys' not found/, /Did you mean 'companies'\?/],
  },
  'an invalid pattern entry': {
    run: () =>
      catalogFrom({
        'base/catalog.yml': '"{name}_csv":\n  type: csv.CSVDataset\n  filepth: data/{name}.csv\n',
      }),
    error: CatalogConfigError,
    message: [
      /unknown key 'filepth' \(did you mean 'filepath'\?\) → at catalog.\{name\}_csv.filepth/,
    ],
  },
  'a missing conf folder': {
    run: () => loadProjectConfig({ projectDir: join(projectDir, 'nowhere') }),
    error: CatalogConfigError,
    message: [/No configuration found/, /nowhere/],
  },
};

describe('bad input', () => {
  it.each(Object.entries(cases))('rejects %s', async (_label, spec) => {
    const error = await spec.run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(spec.error);
    for (const pattern of spec.message) expect((error as Error).message).toMatch(pattern);
  });

  it('keeps the typed dataset error as the cause of a catalog error', async () => {
    const error = await catalogFrom({
      'base/catalog.yml': 'companies:\n  type: csv.CSVDatset\n  filepath: a.csv\n',
    }).catch((e: unknown) => e);
    expect((error as Error).cause).toBeInstanceOf(UnknownDatasetTypeError);
  });
});
