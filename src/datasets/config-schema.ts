/**
 * Validation of a dataset's YAML entry with zod. Each factory declares a strict schema (unknown
 * keys rejected); `parseDatasetConfig` collects every issue with its path and throws one
 * `DatasetConfigError` naming the dataset, with messages such as `missing filepath` and
 * `unknown key 'load_arg' (did you mean 'load_args'?)`.
 */
import * as z from 'zod';
import type { DatasetConfigIssue } from './errors.js';
import { DatasetConfigError } from './errors.js';
import { closestMatch } from '../utils/suggest.js';

/** Keys shared by every file-backed dataset's YAML entry. */
export const fileEntryShape = {
  filepath: z.string().min(1, 'filepath must not be empty'),
  versioned: z.boolean().optional(),
  /** Pin the version to load (default: the latest). */
  load_version: z.string().optional(),
  /** Pin the version to save (default: a new timestamp per save). */
  save_version: z.string().optional(),
  /** Free-form metadata, ignored by the dataset (as in Kedro). */
  metadata: z.record(z.string(), z.unknown()).optional(),
};

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: unknown = schema;
  for (const key of path) {
    const shape = (current as { shape?: Record<string, unknown> }).shape;
    current = shape?.[String(key)];
    while (current && typeof current === 'object' && 'unwrap' in current && !('shape' in current)) {
      current = (current as { unwrap(): unknown }).unwrap();
    }
  }
  const shape = (current as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape).sort() : [];
}

function toPath(path: readonly PropertyKey[]): (string | number)[] {
  return path.map((key) => (typeof key === 'number' ? key : String(key)));
}

/** Turns zod issues into readable issues with paths relative to the dataset entry. */
export function formatZodIssues(
  schema: z.ZodType,
  input: unknown,
  issues: readonly z.core.$ZodIssue[],
): DatasetConfigIssue[] {
  const result: DatasetConfigIssue[] = [];
  for (const issue of issues) {
    const path = toPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, issue.path);
      for (const key of issue.keys) {
        const match = closestMatch(key, known);
        const hint = match
          ? ` (did you mean '${match}'?)`
          : ` (expected one of: ${known.join(', ')})`;
        result.push({ path: [...path, key], message: `unknown key '${key}'${hint}` });
      }
    } else if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) {
      result.push({ path, message: `missing ${path.at(-1) ?? 'value'}` });
    } else {
      result.push({ path, message: issue.message });
    }
  }
  return result;
}

/** `✖ missing filepath → at companies.filepath` lines, one per issue. */
export function formatIssueLines(
  issues: readonly DatasetConfigIssue[],
  prefix: readonly (string | number)[] = [],
): string {
  return issues
    .map((issue) => {
      const path = [...prefix, ...issue.path].join('.');
      return `  ✖ ${issue.message}${path ? ` → at ${path}` : ''}`;
    })
    .join('\n');
}

/**
 * Parses a dataset entry (everything but `type`) with `schema`, or throws a `DatasetConfigError`
 * listing every issue with its path.
 */
export function parseDatasetConfig<S extends z.ZodType>(
  schema: S,
  config: Record<string, unknown>,
  meta: { type: string; name: string },
): z.output<S> {
  const result = schema.safeParse(config);
  if (result.success) return result.data;
  const issues = formatZodIssues(schema, config, result.error.issues);
  const count = issues.length === 1 ? '1 issue' : `${issues.length} issues`;
  return fail(
    `Invalid configuration for dataset '${meta.name}' of type ${meta.type} (${count}):\n${formatIssueLines(issues, [meta.name])}`,
    meta,
    issues,
  );
}

function fail(
  message: string,
  meta: { type: string; name: string },
  issues: DatasetConfigIssue[],
): never {
  throw new DatasetConfigError(message, { dataset: meta.name, type: meta.type, issues });
}
