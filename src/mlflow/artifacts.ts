/**
 * Artifacts through the tracking server's artifact proxy (`mlflow server --serve-artifacts`, the
 * default): `mlflow-artifacts:/<path>` resolves to `<tracking>/api/2.0/mlflow-artifacts/artifacts/<path>`.
 * Uploads stream the file as the PUT body and downloads stream to a temporary file renamed into
 * place, so memory stays flat whatever the file size.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, posix, relative, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MlflowError, MlflowInvalidParameterError } from './errors.js';
import type { Transport } from './http.js';
import type { ArtifactFile } from './types.js';
import { runBounded } from './util.js';

export const ARTIFACTS_API = '/api/2.0/mlflow-artifacts/artifacts';
const SCHEME = 'mlflow-artifacts:';

/** Where an upload or download goes: a run id, or an artifact root URI (`mlflow-artifacts:/...`). */
export type ArtifactTarget = string;

export interface TransferOptions {
  /** Files transferred at once by the directory operations. @default 4 */
  concurrency?: number;
}

/**
 * The proxy path of an `mlflow-artifacts:` URI (`mlflow-artifacts:/1/abc/artifacts` and
 * `mlflow-artifacts://host:port/1/abc/artifacts` both give `1/abc/artifacts`).
 */
export function artifactProxyPath(uri: string): string {
  if (!uri.startsWith(SCHEME)) {
    throw new MlflowError(
      `Artifact location '${uri}' is not served by the tracking server's artifact proxy: only '${SCHEME}' URIs are ` +
        `supported. Start the server with --serve-artifacts (the default) and create the experiment without an ` +
        `explicit artifact_location, or with one starting with '${SCHEME}/'.`,
      { errorCode: 'INVALID_PARAMETER_VALUE' },
    );
  }
  let rest = uri.slice(SCHEME.length);
  if (rest.startsWith('//')) rest = rest.slice(2).replace(/^[^/]*/, '');
  return rest.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** The HTTP URL of an `mlflow-artifacts:` URI on the given tracking server. */
export function resolveArtifactUri(uri: string, trackingUri: string): string {
  return `${trackingUri.replace(/\/+$/, '')}${ARTIFACTS_API}/${encodePath(artifactProxyPath(uri))}`;
}

function encodePath(path: string): string {
  return path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
}

/** Normalises a relative artifact path; refuses absolute paths and `..`. */
export function normaliseArtifactPath(path: string | undefined): string {
  if (!path) return '';
  const clean = posix.normalize(path.replaceAll('\\', '/')).replace(/\/+$/, '');
  if (path.startsWith('/') || clean === '..' || clean.startsWith('../')) {
    throw new MlflowInvalidParameterError(
      `Invalid artifact path '${path}': expected a path relative to the artifact root, without '..'.`,
      { errorCode: 'INVALID_PARAMETER_VALUE' },
    );
  }
  return clean === '.' ? '' : clean;
}

const joinPath = (...parts: string[]): string => parts.filter(Boolean).join('/');

export class ArtifactsApi {
  private readonly runRoots = new Map<string, string>();

  constructor(
    private readonly transport: Transport,
    private readonly runArtifactUri: (runId: string) => Promise<string>,
  ) {}

  /** The artifact root URI of a run id, or the URI itself. */
  async rootUri(target: ArtifactTarget): Promise<string> {
    if (target.includes(':')) return target;
    let root = this.runRoots.get(target);
    if (!root) {
      root = await this.runArtifactUri(target);
      this.runRoots.set(target, root);
    }
    return root;
  }

  /**
   * Uploads one file to `<artifactPath>/<file name>` (as MLflow's `log_artifact`), streaming it.
   * Returns the artifact path written, relative to the root.
   */
  async uploadFile(
    target: ArtifactTarget,
    localPath: string,
    artifactPath?: string,
  ): Promise<string> {
    const dest = joinPath(normaliseArtifactPath(artifactPath), basename(localPath));
    await this.putFile(await this.rootUri(target), localPath, dest);
    return dest;
  }

  /**
   * Uploads a folder's content, recursively, under `artifactPath` (as MLflow's `log_artifacts`).
   * Returns the artifact paths written, sorted.
   */
  async uploadDirectory(
    target: ArtifactTarget,
    localDir: string,
    artifactPath?: string,
    options: TransferOptions = {},
  ): Promise<string[]> {
    const root = await this.rootUri(target);
    const base = normaliseArtifactPath(artifactPath);
    const files = await walk(localDir);
    const dests = files.map((file) =>
      joinPath(base, relative(localDir, file).split(sep).join('/')),
    );
    await runBounded(files.length, options.concurrency ?? 4, (i) =>
      this.putFile(root, files[i]!, dests[i]!),
    );
    return dests.sort();
  }

  /**
   * Uploads one file to exactly `artifactPath` (relative to the root). Returns the SHA-256 of the
   * bytes the accepted request sent, so a caller can check them against a manifest of the file.
   */
  async uploadFileAs(
    target: ArtifactTarget,
    localPath: string,
    artifactPath: string,
  ): Promise<string> {
    return this.putFile(await this.rootUri(target), localPath, normaliseArtifactPath(artifactPath));
  }

  /** PUTs a file, streaming it; resolves to the SHA-256 of what the accepted attempt sent. */
  private async putFile(root: string, localPath: string, dest: string): Promise<string> {
    const { size } = await stat(localPath);
    let hash = createHash('sha256');
    await this.transport.raw({
      method: 'PUT',
      path: this.proxyPath(root, dest),
      stream: () => {
        // Each attempt reads the file again: the hash is of the bytes the last attempt sent.
        hash = createHash('sha256');
        const digest = hash;
        const source = createReadStream(localPath);
        const tap = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            digest.update(chunk);
            done(null, chunk);
          },
        });
        source.on('error', (error) => tap.destroy(error));
        return source.pipe(tap);
      },
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
    });
    return hash.digest('hex');
  }

  /** Downloads one artifact to `localPath` (written to a temporary file, then renamed). */
  async downloadFile(
    target: ArtifactTarget,
    artifactPath: string,
    localPath: string,
  ): Promise<string> {
    const root = await this.rootUri(target);
    const path = normaliseArtifactPath(artifactPath);
    await mkdir(dirname(localPath), { recursive: true });
    const temp = `${localPath}.${randomBytes(6).toString('hex')}.part`;
    const response = await this.transport.raw({
      method: 'GET',
      path: this.proxyPath(root, path),
      responseType: 'stream',
    });
    try {
      await pipeline(response.data as Readable, createWriteStream(temp));
      await rename(temp, localPath);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw new MlflowError(
        `Downloading artifact '${path}' of ${root} to ${localPath} failed: ${(error as Error).message}`,
        {
          errorCode: 'IO_ERROR',
          cause: error,
        },
      );
    }
    return localPath;
  }

  /**
   * Downloads every file below `artifactPath` into `localDir`, keeping the relative layout (each
   * file atomically). Returns the local paths written, sorted.
   */
  async downloadDirectory(
    target: ArtifactTarget,
    artifactPath: string | undefined,
    localDir: string,
    options: TransferOptions = {},
  ): Promise<string[]> {
    const base = normaliseArtifactPath(artifactPath);
    const files = (await this.listArtifacts(target, base, { recursive: true })).filter(
      (f) => !f.isDir,
    );
    const locals = files.map((f) => join(localDir, ...posix.relative(base, f.path).split('/')));
    await runBounded(files.length, options.concurrency ?? 4, (i) =>
      this.downloadFile(target, files[i]!.path, locals[i]!),
    );
    return locals.sort();
  }

  /** The artifacts under `path` (paths relative to the root), optionally recursively; `[]` when none. */
  async listArtifacts(
    target: ArtifactTarget,
    path?: string,
    options: { recursive?: boolean } = {},
  ): Promise<ArtifactFile[]> {
    const root = await this.rootUri(target);
    const base = normaliseArtifactPath(path);
    const body = await this.transport.json<{
      files?: { path: string; is_dir: boolean; file_size?: number | string }[];
    }>({
      method: 'GET',
      path: ARTIFACTS_API,
      query: { path: joinPath(artifactProxyPath(root), base) },
      expect: { files: 'array?' },
    });
    const result: ArtifactFile[] = [];
    for (const file of body.files ?? []) {
      const entry: ArtifactFile = {
        path: joinPath(base, file.path),
        isDir: file.is_dir,
        ...(file.file_size !== undefined ? { fileSize: Number(file.file_size) } : {}),
      };
      result.push(entry);
      if (entry.isDir && options.recursive)
        result.push(...(await this.listArtifacts(root, entry.path, options)));
    }
    return result;
  }

  /** Deletes a file or folder (recursively) through the artifact proxy; deleting nothing is fine. */
  async delete(target: ArtifactTarget, path?: string): Promise<void> {
    const root = await this.rootUri(target);
    await this.transport.raw({
      method: 'DELETE',
      path: this.proxyPath(root, normaliseArtifactPath(path)),
    });
  }

  private proxyPath(root: string, path: string): string {
    return `${ARTIFACTS_API}/${encodePath(joinPath(artifactProxyPath(root), path))}`;
  }
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(full)));
    else if (entry.isFile()) files.push(full);
  }
  return files;
}
