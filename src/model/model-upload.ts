/**
 * Uploading a model folder to its LoggedModel's artifact location while packaging still writes it:
 * a file is sent as soon as it is final (the bundle and the artifacts while the model is verified),
 * the rest once the folder is complete; each file once, at most `concurrency` at a time. The
 * SHA-256 of the bytes each upload sent is kept: the folder's hash manifest is checked against what
 * was uploaded, not against what is on disk.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MlflowClient } from '../mlflow/client.js';
import { ModelUploadMismatchError } from './errors.js';
import type { IntegrityManifest } from './integrity.js';

/** Files uploaded at once: a model folder has a dozen small files and one bundle. @default 16 */
export const MODEL_UPLOAD_CONCURRENCY = 16;

export interface ModelUploadOptions {
  client: MlflowClient;
  /** The LoggedModel's `artifact_uri`. */
  artifactUri: string;
  modelDir: string;
  /** @default MODEL_UPLOAD_CONCURRENCY */
  concurrency?: number;
  /** Called after each file is uploaded (an activity heartbeats). */
  onProgress?: () => void;
}

export class ModelUpload {
  /** Each file's upload, by path relative to the folder (`/`-separated), to its SHA-256. */
  private readonly uploads = new Map<string, Promise<string>>();
  private readonly waiting: (() => void)[] = [];
  private active = 0;

  constructor(private readonly options: ModelUploadOptions) {}

  /** Starts uploading `files` (relative paths) that will not change any more; each file once. */
  add(files: Iterable<string>): void {
    for (const file of files) {
      if (this.uploads.has(file)) continue;
      const upload = this.bounded(async () => {
        const hash = await this.options.client.artifacts.uploadFileAs(
          this.options.artifactUri,
          join(this.options.modelDir, file),
          file,
        );
        this.options.onProgress?.();
        return hash;
      });
      // Awaited by complete() or settled(): never an unhandled rejection meanwhile.
      upload.catch(() => undefined);
      this.uploads.set(file, upload);
    }
  }

  /**
   * Uploads every file of the finished folder not sent yet and waits for all; returns the SHA-256
   * of each file's uploaded bytes, by relative path.
   */
  async complete(): Promise<Record<string, string>> {
    this.add(await listFiles(this.options.modelDir));
    const hashes: Record<string, string> = {};
    for (const [file, upload] of this.uploads) hashes[file] = await upload;
    return hashes;
  }

  /** Waits until no upload runs any more (whether it failed or not): the folder may be removed. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.uploads.values());
  }

  private async bounded<T>(task: () => Promise<T>): Promise<T> {
    const limit = Math.max(1, this.options.concurrency ?? MODEL_UPLOAD_CONCURRENCY);
    // A finished task hands its slot to the next waiting one.
    if (this.active >= limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active += 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}

/**
 * Checks that every file the manifest lists was uploaded with the bytes it records
 * (`ModelUploadMismatchError` naming the first that was not).
 */
export function checkUploadedManifest(
  modelDir: string,
  manifest: IntegrityManifest,
  uploaded: Readonly<Record<string, string>>,
): void {
  for (const [file, hash] of Object.entries(manifest.files))
    if (uploaded[file] !== hash)
      throw new ModelUploadMismatchError(modelDir, file, hash, uploaded[file]);
}

/** Every file below `dir`, relative and `/`-separated. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await listFiles(dir, path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}
