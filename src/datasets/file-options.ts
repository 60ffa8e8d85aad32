import type { FileDatasetOptions } from './file-dataset.js';
import { resolveDatasetPath } from './paths.js';
import type { DatasetContext } from './types.js';

/** The YAML keys shared by file datasets, after validation. */
export interface FileEntry {
  filepath: string;
  versioned?: boolean | undefined;
  load_version?: string | undefined;
  save_version?: string | undefined;
}

/**
 * Maps a validated YAML entry (snake_case) to `FileDatasetOptions` for the entry's context;
 * the path must lie inside the context's allowed roots when it has any (`DatasetPathError`).
 */
export function fileOptionsFrom(entry: FileEntry, context: DatasetContext): FileDatasetOptions {
  resolveDatasetPath(entry.filepath, context);
  return {
    name: context.name,
    projectDir: context.projectDir,
    filepath: entry.filepath,
    versioned: entry.versioned ?? false,
    loadVersion: entry.load_version,
    saveVersion: entry.save_version,
  };
}
