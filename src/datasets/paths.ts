/**
 * Containment of dataset paths. A catalog built from configuration resolves every file path
 * against the project and refuses one that lands outside the project folder and outside the
 * absolute locations the catalog spells out: a dataset factory placeholder (`{name}`) or a
 * runtime parameter holding `..` must not make a save write elsewhere on the machine. The check
 * is lexical (`..` and `.` resolved, symbolic links followed as they are: a project may link its
 * `data/` to another disk on purpose).
 */
import { isAbsolute, normalize, relative, resolve, sep } from 'node:path';
import { DatasetPathError } from './errors.js';
import type { DatasetContext } from './types.js';

/** True when `path` is `root` or lies below it (both absolute). */
export function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}

/**
 * An absolute path written out without `..` segments: such a path names its location
 * explicitly, so it may declare a folder outside the project. A path whose text climbs with
 * `..` (often text spliced from a placeholder or a runtime parameter) never does.
 */
export function isExplicitAbsolute(path: string): boolean {
  if (!isAbsolute(path)) return false;
  return !path.split(/[\\/]+/).includes('..');
}

/**
 * The absolute path of `filepath` for a dataset of `context`; when the context contains paths
 * (catalogs built from configuration), a `DatasetPathError` naming the dataset and the path if
 * it falls outside `context.allowedRoots`.
 */
export function resolveDatasetPath(filepath: string, context: DatasetContext): string {
  const resolved = resolve(context.projectDir, filepath);
  const roots = context.allowedRoots;
  if (roots === undefined || roots.some((root) => isInside(resolved, root))) return resolved;
  throw new DatasetPathError(context.name, filepath, resolved, roots);
}

/** `normalize` without a trailing separator (except for the root itself). */
export function normalizeRoot(path: string): string {
  const normalized = normalize(path);
  return normalized.length > 1 && normalized.endsWith(sep) ? normalized.slice(0, -1) : normalized;
}
