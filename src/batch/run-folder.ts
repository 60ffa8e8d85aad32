/**
 * The folder of one batch scoring run (keyed by workflow id, on the workers' shared disk): its
 * manifest (what the run scores and how its input is read) and one part file per chunk (JSON lines
 * of that chunk's predictions). Parts are written to a temp name and renamed, so a part that exists
 * is complete: a retried or re-run chunk whose part exists is skipped.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SourceLayout } from './dataset-chunks.js';

export interface RunManifest {
  /** Hash of everything that decides the predictions: a different one discards the old parts. */
  fingerprint: string;
  layout: SourceLayout;
  numRows: number;
  chunkSize: number;
  createdAt: string;
}

/** Folder name of a run: readable, and never `.`/`..` or a path. */
export function runFolder(batchDir: string, workflowId: string): string {
  return join(
    batchDir,
    encodeURIComponent(workflowId).replace(/^\.+/, (dots) => '%2E'.repeat(dots.length)),
  );
}

const manifestPath = (runDir: string): string => join(runDir, 'manifest.json');
export const partPath = (runDir: string, index: number): string =>
  join(runDir, `part-${String(index).padStart(6, '0')}.jsonl`);

export async function readManifest(runDir: string): Promise<RunManifest | undefined> {
  try {
    return JSON.parse(await readFile(manifestPath(runDir), 'utf8')) as RunManifest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Writes the manifest; parts of a run with another fingerprint are removed first. */
export async function prepareRunFolder(
  runDir: string,
  manifest: RunManifest,
): Promise<{ reused: boolean }> {
  const existing = await readManifest(runDir).catch(() => undefined);
  const reused = existing?.fingerprint === manifest.fingerprint;
  if (!reused) await rm(runDir, { recursive: true, force: true });
  await mkdir(runDir, { recursive: true });
  await atomicWriteFile(manifestPath(runDir), JSON.stringify(manifest));
  return { reused };
}

async function atomicWriteFile(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}

export async function partExists(runDir: string, index: number): Promise<boolean> {
  return stat(partPath(runDir, index)).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Writes a chunk's predictions as its part (atomically). */
export async function writePart(
  runDir: string,
  index: number,
  predictions: readonly unknown[],
): Promise<void> {
  await mkdir(runDir, { recursive: true });
  let text = '';
  for (const prediction of predictions) text += `${JSON.stringify(prediction) ?? 'null'}\n`;
  await atomicWriteFile(partPath(runDir, index), text);
}

/** Appends the predictions of part `index` to `into`; throws naming the part when it is missing. */
export async function readPart(runDir: string, index: number, into: unknown[]): Promise<void> {
  const lines = createInterface({
    input: createReadStream(partPath(runDir, index), { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  for await (const line of lines) if (line !== '') into.push(JSON.parse(line));
}

export async function removeRunFolder(runDir: string): Promise<void> {
  await rm(runDir, { recursive: true, force: true });
}
