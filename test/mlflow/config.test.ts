import { parse as parseYaml } from 'yaml';
import {
  MLFLOW_YML_TEMPLATE,
  MlflowConfigError,
  isPipelineTracked,
  mlflowClientOptions,
  parseMlflowConfig,
  renderMlflowYmlTemplate,
  resolveMlflowConfig,
} from '../../src/mlflow/index.js';

const FILE = 'conf/local/mlflow.yml';
const noEnv = {};

function configError(run: () => unknown): MlflowConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(MlflowConfigError);
    return error as MlflowConfigError;
  }
  throw new Error('expected an MlflowConfigError');
}

describe('mlflow.yml', () => {
  test('an empty file gives kedro-mlflow defaults and the project name as experiment', () => {
    const config = resolveMlflowConfig(null, { projectName: 'iris', env: noEnv });
    expect(config.enabled).toBe(false);
    expect(config.server.trackingUri).toBeUndefined();
    expect(config.tracking.experiment).toEqual({
      name: 'iris',
      artifactLocation: undefined,
      // MLflow 3 opens experiments of this kind on their training runs, not the GenAI overview.
      tags: { 'mlflow.experimentKind': 'custom_model_development' },
      restoreIfDeleted: true,
    });
    expect(config.tracking.run).toEqual({ id: undefined, name: undefined, nested: true });
    expect(config.tracking.params).toEqual({
      flatten: false,
      recursive: true,
      sep: '.',
      longParamsStrategy: 'fail',
    });
    expect(config.tracking.disableTracking).toEqual({ pipelines: [], disableAutologging: true });
    expect(config.ui).toEqual({ host: '127.0.0.1', port: 5000 });
  });

  test('the tracking uri falls back to MLFLOW_TRACKING_URI, and the file wins over it', () => {
    const env = { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000/' };
    expect(resolveMlflowConfig(undefined, { projectName: 'p', env }).server.trackingUri).toBe(
      'http://127.0.0.1:5000',
    );
    const fromFile = resolveMlflowConfig(
      { server: { mlflow_tracking_uri: 'https://mlflow.example.com' } },
      { projectName: 'p', env },
    );
    expect(fromFile.server.trackingUri).toBe('https://mlflow.example.com');
    expect(fromFile.enabled).toBe(true);
  });

  test('the commented template parses to the defaults with the project name', () => {
    expect(MLFLOW_YML_TEMPLATE).toContain('long_params_strategy: fail');
    const raw: unknown = parseYaml(renderMlflowYmlTemplate('spaceflights'));
    const config = resolveMlflowConfig(raw, { projectName: 'ignored', env: noEnv });
    expect(config.tracking.experiment.name).toBe('spaceflights');
    expect(config.ui.port).toBe(5000);
  });

  test('a kedro-mlflow file with every key is accepted unchanged', () => {
    const raw: unknown = parseYaml(`
server:
  mlflow_tracking_uri: http://127.0.0.1:5000
  mlflow_registry_uri: null
  credentials: mlflow_creds
  request_header_provider: {type: null, pass_context: False, init_kwargs: {}}
tracking:
  disable_tracking: {pipelines: [data_engineering], disable_autologging: True}
  experiment:
    name: exp
    create_experiment_kwargs: {artifact_location: "mlflow-artifacts:/custom", tags: {team: ds, year: 2024}}
    restore_if_deleted: False
  run: {id: abc, name: training, nested: False}
  params:
    dict_params: {flatten: True, recursive: False, sep: "__"}
    long_params_strategy: tag
ui: {port: "5001", host: "0.0.0.0"}
`);
    const config = resolveMlflowConfig(raw, {
      projectName: 'p',
      env: { MLFLOW_TRACKING_TOKEN: 'env-token' },
      credentials: {
        mlflow_creds: { MLFLOW_TRACKING_USERNAME: 'alice', MLFLOW_TRACKING_PASSWORD: 's3cret!' },
      },
    });
    expect(config.tracking.experiment).toEqual({
      name: 'exp',
      artifactLocation: 'mlflow-artifacts:/custom',
      tags: { 'mlflow.experimentKind': 'custom_model_development', team: 'ds', year: '2024' },
      restoreIfDeleted: false,
    });
    expect(config.tracking.run).toEqual({ id: 'abc', name: 'training', nested: false });
    expect(config.tracking.params).toEqual({
      flatten: true,
      recursive: false,
      sep: '__',
      longParamsStrategy: 'tag',
    });
    expect(config.ui).toEqual({ host: '0.0.0.0', port: 5001 });
    expect(isPipelineTracked(config, 'data_engineering')).toBe(false);
    expect(isPipelineTracked(config, '__default__')).toBe(true);
    // Basic credentials from credentials.yml win over the environment's token, and stay out of sight.
    expect(mlflowClientOptions(config)?.auth).toEqual({ username: 'alice', password: 's3cret!' });
    expect(JSON.stringify(config)).not.toContain('s3cret');
  });

  test('unknown keys are all reported with their full path and a did-you-mean', () => {
    const error = configError(() =>
      parseMlflowConfig(
        {
          tracking: { run: { nme: 'x' }, experiment: { name: 'e', restore_if_delete: true } },
          uii: {},
        },
        FILE,
      ),
    );
    expect(error.file).toBe(FILE);
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      'tracking.experiment.restore_if_delete',
      'tracking.run.nme',
      'uii',
    ]);
    expect(error.message).toContain(`Invalid ${FILE}:`);
    expect(error.message).toContain(
      "✖ Unknown key 'nme' (expected one of: id, name, nested). Did you mean 'name'? → at tracking.run.nme",
    );
    expect(error.message).toContain("Did you mean 'restore_if_deleted'?");
    expect(error.message).toContain("Did you mean 'ui'?");
  });

  test.each([
    ['a wrong type', { tracking: { run: { nested: 'yes' } } }, 'tracking.run.nested'],
    [
      'an unknown strategy',
      { tracking: { params: { long_params_strategy: 'drop' } } },
      'tracking.params.long_params_strategy',
    ],
    ['a list instead of a mapping', { server: [] }, 'server'],
  ])('%s is reported with its path', (_label, raw, path) => {
    const error = configError(() => parseMlflowConfig(raw, FILE));
    expect(error.issues.map((i) => i.path)).toEqual([path]);
  });

  test.each([
    ['mlruns'],
    ['./mlruns'],
    ['file:///tmp/mlruns'],
    ['databricks'],
    ['sqlite:///mlflow.db'],
  ])("the tracking uri '%s' is refused with a hint to use an http server", (uri) => {
    const error = configError(() =>
      resolveMlflowConfig(
        { server: { mlflow_tracking_uri: uri } },
        { projectName: 'p', env: noEnv },
      ),
    );
    expect(error.issues[0]?.path).toBe('server.mlflow_tracking_uri');
    expect(error.message).toContain('http://127.0.0.1:5000');
  });

  test('a relative MLFLOW_TRACKING_URI is refused and named as the environment variable', () => {
    const error = configError(() =>
      resolveMlflowConfig({}, { projectName: 'p', env: { MLFLOW_TRACKING_URI: 'mlruns' } }),
    );
    expect(error.issues[0]?.path).toBe('MLFLOW_TRACKING_URI');
  });

  test('server.credentials naming a missing credentials.yml key lists the available keys', () => {
    const error = configError(() =>
      resolveMlflowConfig(
        { server: { mlflow_tracking_uri: 'http://h:5000', credentials: 'mlflow_cred' } },
        {
          projectName: 'p',
          env: noEnv,
          credentials: { mlflow_creds: { MLFLOW_TRACKING_TOKEN: 't' }, db: {} },
        },
      ),
    );
    expect(error.message).toContain(
      "credentials.yml has no key 'mlflow_cred' (available: db, mlflow_creds). Did you mean 'mlflow_creds'?",
    );
    expect(error.message).not.toContain("MLFLOW_TRACKING_TOKEN: 't'");
  });

  test('a token from credentials.yml is used when no username is given', () => {
    const config = resolveMlflowConfig(
      { server: { mlflow_tracking_uri: 'http://h:5000', credentials: 'c' } },
      { projectName: 'p', env: noEnv, credentials: { c: { MLFLOW_TRACKING_TOKEN: 'tok' } } },
    );
    expect(config.server.auth).toEqual({ token: 'tok' });
    expect(Object.keys(config.server)).not.toContain('auth');
  });

  test('python request header providers and a bad ui port are reported together', () => {
    const error = configError(() =>
      resolveMlflowConfig(
        { server: { request_header_provider: { type: 'pkg.Provider' } }, ui: { port: 'abc' } },
        { projectName: 'p', env: noEnv },
      ),
    );
    expect(error.issues.map((i) => i.path)).toEqual([
      'server.request_header_provider.type',
      'ui.port',
    ]);
  });
});
