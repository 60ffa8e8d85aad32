import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Kedro's version string: a UTC timestamp `YYYY-MM-DDThh.mm.ss.sssZ`, which sorts
 * lexicographically in time order.
 */
export const VERSION_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$/;

let lastVersionMs = 0;

/**
 * A new version string for now. Strictly increasing within this process, so two saves in the
 * same millisecond still get distinct versions.
 */
export function generateVersion(now: number = Date.now()): string {
  const ms = Math.max(now, lastVersionMs + 1);
  lastVersionMs = ms;
  return new Date(ms).toISOString().replace(/:/g, '.');
}

/** The file of `version` for a versioned dataset: `<filepath>/<version>/<basename>` like Kedro. */
export function versionedPath(filepath: string, version: string, fileName: string): string {
  return join(filepath, version, fileName);
}

/**
 * Versions under `filepath` that hold the dataset's file, newest first. Synchronous because
 * `localPath()` is; a folder listing is cheap.
 */
export function listVersions(filepath: string, fileName: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(filepath);
  } catch {
    return [];
  }
  return entries
    .filter((entry) => VERSION_PATTERN.test(entry) && existsSync(join(filepath, entry, fileName)))
    .sort()
    .reverse();
}
