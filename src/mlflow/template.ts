import { localServicesCommand } from '../utils/local-services-hint.js';

/** The commented mlflow.yml that `temporal-mlflow init` writes (kedro-mlflow's template and defaults). */

/** Placeholder replaced by the project name in `MLFLOW_YML_TEMPLATE`. */
export const PROJECT_NAME_PLACEHOLDER = '{{ project_name }}';

export const MLFLOW_YML_TEMPLATE = `# SERVER CONFIGURATION -------------------

# \`mlflow_tracking_uri\` is the MLflow tracking server runs are recorded on (http or https).
# If null, the MLFLOW_TRACKING_URI environment variable is used; if that is unset too,
# nothing is tracked. Local 'mlruns' folders are not supported: run 'mlflow server'
# (or '${localServicesCommand()}') and use its URL, e.g. http://127.0.0.1:5000.

# Credentials for the server are read from credentials.yml, never from this file, and are
# used for authentication only (never logged). For instance:
# > in \`credentials.yml\`:
# my_mlflow_credentials:
#   MLFLOW_TRACKING_USERNAME: alice
#   MLFLOW_TRACKING_PASSWORD: secret     # or MLFLOW_TRACKING_TOKEN: ...
# > in this file:
# credentials: my_mlflow_credentials

server:
  mlflow_tracking_uri: null # if null, MLFLOW_TRACKING_URI is used
  mlflow_registry_uri: null # if null, the tracking server is used as the registry
  credentials: null # a key of credentials.yml holding MLFLOW_TRACKING_* variables (see above)
  request_header_provider: # kept for compatibility with kedro-mlflow; 'type' must stay null
    type: null
    pass_context: False
    init_kwargs: {}

tracking:
  # Pipelines listed here are run without any MLflow run or logging
  # ('temporal-mlflow run --pipeline=<name>' logs nothing for them).
  disable_tracking:
    pipelines: []
    disable_autologging: True

  experiment:
    name: ${PROJECT_NAME_PLACEHOLDER} # created on first use when it does not exist
    create_experiment_kwargs: # only used when the experiment is created
      artifact_location: null # null lets the server choose (served through its artifact proxy)
      tags: null
    restore_if_deleted: True # if the experiment \`name\` was deleted, should it be restored?

  run:
    id: null # if \`id\` is null, a new run is created
    name: null # if \`name\` is null, the pipeline name is used as the run name
    nested: True # if \`nested\` is False, runs cannot be started inside a run

  params:
    dict_params:
      flatten: False # if True, dict parameters are split into one MLflow param per key
      recursive: True # flatten nested dicts too? Not used if \`flatten\` is False.
      sep: "." # separator of flattened keys: {hyperparam1: {p1: 1}} is logged as hyperparam1.p1
    long_params_strategy: fail # one of fail, tag, truncate: what to do with a value above MLflow's 6000-character limit (fail, log it as a tag, or keep its first 6000 characters)

# UI-RELATED PARAMETERS -----------------

ui:
  port: "5000" # the port 'temporal-mlflow ui' uses when it starts a local server
  host: "127.0.0.1" # the host 'temporal-mlflow ui' uses when it starts a local server
`;

/** The template with the project name filled in as the experiment name. */
export function renderMlflowYmlTemplate(projectName: string): string {
  return MLFLOW_YML_TEMPLATE.replace(PROJECT_NAME_PLACEHOLDER, projectName);
}
