import {
  DEFAULT_CONFIG_ENV,
  DEFAULT_PIPELINE_NAME,
  DEFAULT_TEMPORAL_NAMESPACE,
  DEFAULT_TEMPORAL_UI_URL,
  TEMPORAL_HTTP_ADDRESS_ENV,
} from '../constants.js';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseRuntimeParams } from '../catalog/runtime-params.js';
import type { PipelineFilters } from '../temporal/types.js';
import type { Command } from 'commander';
import { CliUsageError } from './errors.js';

/** Options every project command takes. */
export interface ProjectCommandOptions {
  project?: string;
  env?: string;
  params?: string;
  pipeline?: string;
}

export interface FilterCommandOptions {
  tags?: string;
  nodes?: string;
  fromNodes?: string;
  toNodes?: string;
  fromInputs?: string;
  toOutputs?: string;
}

/** `--project <dir>`: the project root, the current folder by default. */
export function addProjectDirOption(
  command: Command,
  description = 'project root (holds temporal-mlflow.config.ts and conf/)',
): Command {
  return command.option('--project <dir>', description, process.cwd());
}

/** `-e, --env <env>`: the configuration environment, `local` by default. */
export function addEnvOption(
  command: Command,
  description = 'configuration environment layered over conf/base',
  defaultEnv: string | undefined = DEFAULT_CONFIG_ENV,
): Command {
  return command.option('-e, --env <env>', description, defaultEnv);
}

/** The options of commands that run a project's pipeline: project, env, params, pipeline. */
export function addProjectOptions(command: Command): Command {
  return addEnvOption(addProjectDirOption(command))
    .option(
      '--params <list>',
      'runtime parameter overrides, e.g. "model.alpha=0.1,split.test_ratio=0.2"',
    )
    .option('-p, --pipeline <name>', 'registered pipeline to run', DEFAULT_PIPELINE_NAME);
}

export function addFilterOptions(command: Command): Command {
  return command
    .option('--tags <list>', 'run only nodes with any of these tags (comma-separated)')
    .option('--nodes <list>', 'run only these nodes')
    .option('--from-nodes <list>', 'run from these nodes downstream')
    .option('--to-nodes <list>', 'run up to these nodes')
    .option('--from-inputs <list>', 'run from the nodes that read these datasets')
    .option('--to-outputs <list>', 'run up to the nodes that write these datasets');
}

/** Kedro-style comma lists; node names may contain commas inside brackets, so split at top level. */
export function splitList(text: string | undefined): string[] | undefined {
  if (!text) return undefined;
  const items: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '[' || char === '(') depth++;
    if (char === ']' || char === ')') depth--;
    if (char === ',' && depth === 0) {
      items.push(current.trim());
      current = '';
    } else current += char;
  }
  if (current.trim()) items.push(current.trim());
  return items;
}

export function filtersFrom(options: FilterCommandOptions): PipelineFilters {
  const given = {
    tags: splitList(options.tags),
    nodeNames: splitList(options.nodes),
    fromNodes: splitList(options.fromNodes),
    toNodes: splitList(options.toNodes),
    fromInputs: splitList(options.fromInputs),
    toOutputs: splitList(options.toOutputs),
  };
  return Object.fromEntries(
    Object.entries(given).filter(([, list]) => list !== undefined && list.length > 0),
  ) as PipelineFilters;
}

export function runtimeParamsFrom(options: ProjectCommandOptions): Record<string, unknown> {
  return options.params ? parseRuntimeParams(options.params) : {};
}

/** The command line that reproduces a run (for the resume hint and the MLflow tag), without filters. */
export function reproduceCommand(command: string, options: ProjectCommandOptions): string {
  const parts = [
    'temporal-mlflow',
    command,
    '--pipeline',
    options.pipeline ?? DEFAULT_PIPELINE_NAME,
  ];
  if (options.env && options.env !== DEFAULT_CONFIG_ENV) parts.push('--env', options.env);
  if (options.params) parts.push('--params', JSON.stringify(options.params));
  if (options.project && resolve(options.project) !== process.cwd())
    parts.push('--project', JSON.stringify(options.project));
  return parts.join(' ');
}

/**
 * Fills TEMPORAL_ADDRESS, TEMPORAL_UI_URL, MLFLOW_TRACKING_URI and TEMPORAL_HTTP_ADDRESS from
 * `.local/services.env` (written by `scripts/services start`) for variables the environment does
 * not set. The HTTP address goes with the local server's gRPC address: it is not filled when the
 * environment names another Temporal server.
 */
export function loadServicesEnv(file: string): boolean {
  if (!existsSync(file)) return false;
  const entries = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line);
    if (match) entries.set(match[1]!, match[2]!);
  }
  const otherServer =
    process.env.TEMPORAL_ADDRESS !== undefined &&
    process.env.TEMPORAL_ADDRESS !== entries.get('TEMPORAL_ADDRESS');
  for (const [key, value] of entries) {
    if (key === TEMPORAL_HTTP_ADDRESS_ENV && otherServer) continue;
    process.env[key] ??= value;
  }
  return true;
}

/** The Temporal Web UI page of a workflow. */
export function temporalWorkflowUrl(
  workflowId: string,
  namespace = process.env.TEMPORAL_NAMESPACE ?? DEFAULT_TEMPORAL_NAMESPACE,
): string {
  const ui = process.env.TEMPORAL_UI_URL ?? DEFAULT_TEMPORAL_UI_URL;
  return `${ui}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** A flag's value as a TCP port (0: any free one), or a usage error naming the flag. */
export function portNumber(flag: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) {
    throw new CliUsageError(`${flag} must be a port number (0-65535), got '${value}'.`);
  }
  return parsed;
}

/** A flag's value as a positive integer, or a usage error naming the flag. */
export function positiveInteger(flag: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new CliUsageError(`${flag} must be a positive integer, got '${value}'.`);
  }
  return parsed;
}
