import type { DatasetFactory } from '../datasets/types.js';
import type { Hooks } from '../hooks/types.js';
import type { RetryOptions } from '../pipeline/node-options.js';
import type { Pipeline } from '../pipeline/pipeline.js';

/** What a project's `temporal-mlflow.config.ts` declares (Kedro's settings + pipeline registry). */
export interface ProjectOptions {
  /** Project name: the default MLflow experiment name. */
  name: string;
  /**
   * Pipelines by name; `__default__` runs when no `--pipeline` is given. A function is called
   * once, when the project is loaded (Kedro's `register_pipelines`).
   */
  pipelines: Record<string, Pipeline> | (() => Record<string, Pipeline>);
  /** Lifecycle hooks, run in order, after the built-in ones (MLflow tracking). */
  hooks?: Hooks[];
  /** Dataset types this project adds to the registry, keyed by their `type:` string. */
  datasets?: Record<string, DatasetFactory>;
  /**
   * Temporal retry and timeout of nodes by tag (e.g. `{ gpu: { timeout: '2h' }, flaky_api: { retry:
   * { maximumAttempts: 10 } } }`): applied to every node with the tag (tags in name order, later ones winning), under the node's own options.
   */
  nodeOptionsByTag?: Record<string, TaggedNodeOptions>;
  /**
   * Training schedules by name, made real by `temporal-mlflow schedule apply` (idempotent: a
   * second apply changes nothing). Schedule ids default to `<project>-<name>`.
   * @example { nightly: { pipeline: '__default__', cron: '0 2 * * *' } }
   */
  schedules?: Record<string, ScheduleDeclaration>;
}

/** A training schedule declared by a project (see `createTrainingSchedule` for each option). */
export interface ScheduleDeclaration {
  /** @default `<project>-<name>` */
  scheduleId?: string;
  /** @default '__default__' */
  pipeline?: string;
  /** @default the environment `schedule apply` is given ('local') */
  env?: string;
  params?: Record<string, unknown>;
  /** Cron expression(s); exactly one of `cron` and `every`. */
  cron?: string | string[];
  /** Interval such as `'1h'`, `'1d'`, or milliseconds. */
  every?: string | number;
  offset?: string | number;
  /** @default 'UTC' */
  timezone?: string;
  /** @default 'skip' */
  overlap?: 'skip' | 'buffer_one' | 'buffer_all' | 'cancel_other' | 'terminate_other' | 'allow_all';
  /** @default '10m' */
  catchupWindow?: string | number;
  /** @default false */
  pauseOnFailure?: boolean;
  /** Created paused. @default false */
  paused?: boolean;
  note?: string;
}

/** Options a tag gives its nodes. */
export interface TaggedNodeOptions {
  retry?: RetryOptions;
  /** Milliseconds, or a duration such as `'30s'`, `'5m'`, `'2h'`. */
  timeout?: number | string;
  /** Run the tag's nodes as Temporal local activities (see the node option `local`). */
  local?: boolean;
}

/** A project as loaded: pipelines resolved, defaults applied. */
export interface ProjectDefinition {
  readonly name: string;
  readonly pipelines: Readonly<Record<string, Pipeline>>;
  readonly hooks: readonly Hooks[];
  readonly datasets: Readonly<Record<string, DatasetFactory>>;
  readonly nodeOptionsByTag: Readonly<Record<string, TaggedNodeOptions>>;
  readonly schedules: Readonly<Record<string, ScheduleDeclaration>>;
}

const PROJECT_BRAND = Symbol.for('temporal-mlflow.ProjectDefinition');

/** Declares a project; default-export the result from `temporal-mlflow.config.ts`. */
export function defineProject(options: ProjectOptions): ProjectDefinition {
  const pipelines =
    typeof options.pipelines === 'function' ? options.pipelines() : options.pipelines;
  const project: ProjectDefinition = {
    name: options.name,
    pipelines: Object.freeze({ ...pipelines }),
    hooks: Object.freeze([...(options.hooks ?? [])]),
    datasets: Object.freeze({ ...(options.datasets ?? {}) }),
    nodeOptionsByTag: Object.freeze({ ...(options.nodeOptionsByTag ?? {}) }),
    schedules: Object.freeze({ ...(options.schedules ?? {}) }),
  };
  Object.defineProperty(project, PROJECT_BRAND, { value: true });
  return Object.freeze(project);
}

/** True for values made by `defineProject` (works across duplicate module instances). */
export function isProjectDefinition(value: unknown): value is ProjectDefinition {
  return typeof value === 'object' && value !== null && PROJECT_BRAND in value;
}
