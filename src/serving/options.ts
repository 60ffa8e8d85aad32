/**
 * Options of the scoring server: what a user passes ({@link ScoringServerOptions}, documented
 * defaults), compiled once into checked, complete values ({@link CompiledScoringServerOptions}).
 * Every problem is reported at once, naming the option.
 */
import type { FastifyServerOptions } from 'fastify';

/** Options of {@link createScoringServer} (and of `serveModel`, which passes them on). */
export interface ScoringServerOptions {
  /** Largest accepted request body, in bytes; larger ones are answered 413. @default 16 MiB */
  bodyLimitBytes?: number;
  /** Most records (rows) in one request; more are answered 400 `REQUEST_LIMIT_EXCEEDED`. @default 100_000 */
  maxRecords?: number;
  /** Most columns (and params) in one request; more are answered 400 `REQUEST_LIMIT_EXCEEDED`. @default 10_000 */
  maxColumns?: number;
  /**
   * Most `/invocations` requests one worker processes at a time; the next ones are answered 503 with
   * `Retry-After` before their body is read. Health checks are never limited. @default 16
   */
  maxInFlight?: number;
  /** `Retry-After` of a 503, in seconds. @default 1 */
  retryAfterSeconds?: number;
  /**
   * Stricter checks than MLflow's scoring server: unknown params and unknown body keys are errors,
   * values are not converted (a number for a string column is an error), null is refused in
   * required columns, and CSV headers must have unique, non-empty names. By default the server
   * answers as `mlflow models serve` does. @default false
   */
  strict?: boolean;
  /**
   * CPU time a request's parsing and checking may run before it gives the event loop back (so
   * `/ping` and smaller requests are answered while a large body is read). @default 4
   */
  sliceMs?: number;
  /** Fastify (pino) logger: `true`, pino options, or `false` for none. One line per request. @default false */
  logger?: boolean | FastifyServerOptions['logger'];
}

export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_RECORDS = 100_000;
export const DEFAULT_MAX_COLUMNS = 10_000;
export const DEFAULT_MAX_IN_FLIGHT = 16;
export const DEFAULT_RETRY_AFTER_SECONDS = 1;
export const DEFAULT_SLICE_MS = 4;

/** {@link ScoringServerOptions} with every default applied and every value checked. */
export interface CompiledScoringServerOptions {
  readonly bodyLimitBytes: number;
  readonly maxRecords: number;
  readonly maxColumns: number;
  readonly maxInFlight: number;
  readonly retryAfterSeconds: number;
  readonly strict: boolean;
  readonly sliceMs: number;
  readonly logger: boolean | FastifyServerOptions['logger'];
}

/** Applies the defaults and checks every value; throws a TypeError listing each bad option. */
export function compileScoringServerOptions(
  options: ScoringServerOptions = {},
): CompiledScoringServerOptions {
  const compiled: CompiledScoringServerOptions = {
    bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    maxRecords: options.maxRecords ?? DEFAULT_MAX_RECORDS,
    maxColumns: options.maxColumns ?? DEFAULT_MAX_COLUMNS,
    maxInFlight: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    retryAfterSeconds: options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
    strict: options.strict ?? false,
    sliceMs: options.sliceMs ?? DEFAULT_SLICE_MS,
    logger: options.logger ?? false,
  };
  const issues: string[] = [];
  for (const key of [
    'bodyLimitBytes',
    'maxRecords',
    'maxColumns',
    'maxInFlight',
    'retryAfterSeconds',
  ] as const) {
    const v = compiled[key];
    if (!Number.isSafeInteger(v) || v < 1)
      issues.push(`${key} must be a positive integer, got ${v}`);
  }
  if (!(compiled.sliceMs > 0))
    issues.push(`sliceMs must be a positive number, got ${compiled.sliceMs}`);
  if (typeof compiled.strict !== 'boolean')
    issues.push(`strict must be a boolean, got ${String(compiled.strict as unknown)}`);
  if (issues.length > 0)
    throw new TypeError(`Invalid scoring server options:\n  ✖ ${issues.join('\n  ✖ ')}`);
  return compiled;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1000,
  kib: 1024,
  k: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  m: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  g: 1024 ** 3,
};

/** Reads a size such as `16mb`, `512KiB`, `1048576` (bytes); `undefined` when it is not one. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const bytes = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}
