/**
 * Parameter sweeps from a client: a sweep spec (YAML or object) is validated, expanded into
 * explicit trials here (grid: every combination; random: seeded samples), and `sweepWorkflow`
 * runs them. The workflow never sees the spec: YAML and randomness stay outside it.
 *
 * ```yaml
 * # sweep.yml
 * pipeline: __default__
 * method: random          # or grid (default)
 * trials: 12              # random: how many; grid: at most this many combinations
 * maxParallel: 4
 * metric: accuracy        # default: the pipeline's promote.metric
 * goal: maximize          # default: the promote option's direction
 * seed: 7
 * parameters:
 *   model.smoothing: [0.1, 0.5, 1.0]          # a list: grid values, or random choices
 *   vocabulary.min_count: { values: [1, 2] }
 *   split.test_ratio: { min: 0.1, max: 0.3 }  # random only: uniform (log: true, integer: true)
 * ```
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { workflowDefinitions } from './lazy-definitions.js';
import type { sweepWorkflow } from '../../workflows/sweep.js';
import { deepMerge } from '../catalog/merge.js';
import { compileTrainingOptions, type StartTrainingOptions } from './client.js';
import type {
  NodeActivityDefaults,
  SweepInput,
  SweepProgress,
  SweepResult,
  SweepTrial,
} from './types.js';

const SWEEP_WORKFLOW_TYPE = 'sweepWorkflow';

/** A range sampled by random search. */
export interface ParamRange {
  min: number;
  max: number;
  /** Sample uniformly in log space. @default false */
  log?: boolean;
  /** Round to an integer. @default false */
  integer?: boolean;
}

/** A swept parameter: values (grid, or random choices), or a range (random only). */
export type ParamSpace = readonly unknown[] | { values: readonly unknown[] } | ParamRange;

export interface SweepSpec {
  pipeline?: string;
  env?: string;
  /** @default 'grid' */
  method?: 'grid' | 'random';
  /** Random: the number of trials (required). Grid: at most this many combinations. */
  trials?: number;
  /** @default 4 */
  maxParallel?: number;
  metric?: string;
  goal?: 'maximize' | 'minimize';
  /** Seed of random search. @default 0 */
  seed?: number;
  /** Parameters shared by every trial (dotted names allowed). */
  params?: Record<string, unknown>;
  /** Swept parameters by dotted name, e.g. `model.smoothing`. */
  parameters: Record<string, ParamSpace>;
}

/** Every problem of a sweep spec, with its path (`✖ message → at parameters.x`). */
export class SweepSpecError extends Error {
  override readonly name = 'SweepSpecError';
  constructor(
    readonly source: string,
    readonly issues: readonly { path: string; message: string }[],
  ) {
    super(
      `Invalid sweep spec ${source}:\n${issues.map((i) => `✖ ${i.message} → at ${i.path}`).join('\n')}`,
    );
  }
}

const SPEC_KEYS = [
  'pipeline',
  'env',
  'method',
  'trials',
  'maxParallel',
  'metric',
  'goal',
  'seed',
  'params',
  'parameters',
];

function isRange(space: unknown): space is ParamRange {
  return typeof space === 'object' && space !== null && !Array.isArray(space) && 'min' in space;
}

function valuesOf(space: ParamSpace): readonly unknown[] | undefined {
  if (Array.isArray(space)) return space;
  if (typeof space === 'object' && space !== null && 'values' in space)
    return (space as { values: readonly unknown[] }).values;
  return undefined;
}

/** Validates a sweep spec, collecting every issue; `source` names it in the error (a file path). */
export function parseSweepSpec(value: unknown, source = 'sweep spec'): SweepSpec {
  const issues: { path: string; message: string }[] = [];
  const add = (path: string, message: string): void => void issues.push({ path, message });
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SweepSpecError(source, [{ path: '(root)', message: 'expected a mapping' }]);
  const spec = value as Record<string, unknown>;
  for (const key of Object.keys(spec))
    if (!SPEC_KEYS.includes(key))
      add(key, `unknown key (expected one of ${[...SPEC_KEYS].sort().join(', ')})`);
  const method = spec.method ?? 'grid';
  if (method !== 'grid' && method !== 'random')
    add('method', `expected 'grid' or 'random', got ${JSON.stringify(method)}`);
  for (const key of ['trials', 'maxParallel'] as const)
    if (spec[key] !== undefined && (!Number.isInteger(spec[key]) || (spec[key] as number) < 1))
      add(key, `expected a positive integer, got ${JSON.stringify(spec[key])}`);
  if (method === 'random' && spec.trials === undefined)
    add('trials', 'random search needs the number of trials');
  if (spec.goal !== undefined && spec.goal !== 'maximize' && spec.goal !== 'minimize')
    add('goal', `expected 'maximize' or 'minimize', got ${JSON.stringify(spec.goal)}`);
  for (const key of ['pipeline', 'env', 'metric'] as const)
    if (spec[key] !== undefined && (typeof spec[key] !== 'string' || spec[key] === ''))
      add(key, 'expected a non-empty string');
  if (spec.seed !== undefined && !Number.isInteger(spec.seed)) add('seed', 'expected an integer');
  if (
    spec.params !== undefined &&
    (typeof spec.params !== 'object' || spec.params === null || Array.isArray(spec.params))
  )
    add('params', 'expected a mapping of parameter names to values');
  const parameters = spec.parameters;
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
    add('parameters', 'expected a mapping of parameter names to values or ranges');
  } else {
    if (Object.keys(parameters).length === 0) add('parameters', 'expected at least one parameter');
    for (const [name, space] of Object.entries(parameters)) {
      const path = `parameters.${name}`;
      if (!/^[A-Za-z_][\w-]*(?:\.[A-Za-z_0-9][\w-]*)*$/.test(name))
        add(path, 'expected a dotted parameter name like model.alpha');
      const values = valuesOf(space as ParamSpace);
      if (values !== undefined) {
        if (values.length === 0) add(path, 'expected at least one value');
      } else if (isRange(space)) {
        if (method === 'grid')
          add(path, 'a range needs method: random (give a list of values for a grid)');
        if (typeof space.min !== 'number' || typeof space.max !== 'number' || space.min > space.max)
          add(
            path,
            `expected numbers min <= max, got min ${String(space.min)}, max ${String(space.max)}`,
          );
        else if (space.log && space.min <= 0) add(path, 'a log range needs min > 0');
      } else {
        add(path, 'expected a list of values, { values: [...] } or { min, max }');
      }
    }
  }
  if (issues.length > 0) throw new SweepSpecError(source, issues);
  return spec as unknown as SweepSpec;
}

/** Reads and validates a sweep YAML file. */
export async function loadSweepSpec(file: string): Promise<SweepSpec> {
  let value: unknown;
  try {
    value = parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new SweepSpecError(file, [{ path: '(file)', message: (error as Error).message }]);
  }
  return parseSweepSpec(value, file);
}

/** A small seeded PRNG (mulberry32): the same seed gives the same trials. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Nested params from dotted names: `{ 'model.alpha': 1 }` → `{ model: { alpha: 1 } }`. */
function nest(values: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    const parts = name.split('.');
    let target = result;
    for (const part of parts.slice(0, -1))
      target = (target[part] ??= {}) as Record<string, unknown>;
    target[parts.at(-1)!] = value;
  }
  return result;
}

/** The trials of a spec: every grid combination (in order), or `trials` seeded random samples. */
export function expandTrials(
  spec: SweepSpec,
  baseParams: Record<string, unknown> = {},
): SweepTrial[] {
  const names = Object.keys(spec.parameters).sort();
  let combos: Record<string, unknown>[];
  if ((spec.method ?? 'grid') === 'grid') {
    combos = [{}];
    for (const name of names) {
      const values = valuesOf(spec.parameters[name]!)!;
      combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [name]: value })));
    }
    if (spec.trials !== undefined) combos = combos.slice(0, spec.trials);
  } else {
    const next = random(spec.seed ?? 0);
    combos = Array.from({ length: spec.trials! }, () =>
      Object.fromEntries(
        names.map((name) => {
          const space = spec.parameters[name]!;
          const values = valuesOf(space);
          if (values) return [name, values[Math.floor(next() * values.length)]];
          const range = space as ParamRange;
          let value = range.log
            ? Math.exp(Math.log(range.min) + next() * (Math.log(range.max) - Math.log(range.min)))
            : range.min + next() * (range.max - range.min);
          value = range.integer ? Math.round(value) : Number(value.toPrecision(6));
          return [name, value];
        }),
      ),
    );
  }
  const base = deepMerge(nest(baseParams), nest(spec.params ?? {})) as Record<string, unknown>;
  return combos.map((values) => ({
    values,
    params: deepMerge(base, nest(values)) as Record<string, unknown>,
  }));
}

export interface StartSweepOptions extends Omit<
  StartTrainingOptions,
  'filters' | 'nodesPerHistory'
> {
  /** The spec (or a YAML file path); its pipeline, env and params apply unless given here. */
  spec: SweepSpec | string;
  /** @default `sweep-<pipeline>-<uuid>` */
  workflowId?: string;
  nodeDefaults?: Partial<NodeActivityDefaults>;
}

/** A started sweep. */
export interface SweepHandle {
  readonly workflowId: string;
  readonly taskQueue: string;
  readonly trials: SweepTrial[];
  readonly handle: WorkflowHandle<typeof sweepWorkflow>;
  progress(): Promise<SweepProgress>;
  result(): Promise<SweepResult>;
}

/** Validates the spec, expands its trials and starts `sweepWorkflow` on the project's queue. */
export async function startSweep(client: Client, options: StartSweepOptions): Promise<SweepHandle> {
  const spec =
    typeof options.spec === 'string'
      ? await loadSweepSpec(options.spec)
      : parseSweepSpec(options.spec);
  const pipeline = options.pipeline ?? spec.pipeline;
  const env = options.env ?? spec.env;
  const compiled = await compileTrainingOptions({
    ...options,
    ...(pipeline ? { pipeline } : {}),
    ...(env ? { env } : {}),
  });
  const trials = expandTrials(spec, compiled.input.params ?? {});
  const workflowId = options.workflowId ?? `sweep-${compiled.pipeline}-${randomUUID()}`;
  const input: SweepInput = {
    pipeline: compiled.pipeline,
    env: compiled.env,
    params: compiled.input.params ?? {},
    trials,
    ...(spec.maxParallel ? { maxParallel: spec.maxParallel } : {}),
    ...(spec.metric ? { metric: spec.metric } : {}),
    ...(spec.goal ? { goal: spec.goal } : {}),
    ...(compiled.identity ? { identity: compiled.identity } : {}),
    ...(options.command ? { command: options.command } : {}),
    ...(options.nodeDefaults ? { nodeDefaults: options.nodeDefaults } : {}),
  };
  const { pipelineNameKey } = await workflowDefinitions();
  const handle = await client.workflow.start<typeof sweepWorkflow>(SWEEP_WORKFLOW_TYPE, {
    taskQueue: compiled.taskQueue,
    workflowId,
    args: [input],
    staticSummary: `Sweep of \`${compiled.pipeline}\`: ${trials.length} trials, ${input.maxParallel ?? 4} at once`,
    typedSearchAttributes: [{ key: pipelineNameKey, value: compiled.pipeline }],
  });
  return {
    workflowId,
    taskQueue: compiled.taskQueue,
    trials,
    handle,
    progress: async () => handle.query((await workflowDefinitions()).sweepProgressQuery),
    result: () => handle.result(),
  };
}
