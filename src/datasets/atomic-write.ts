import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';

/** The temp-file name pattern used by `atomicWrite`: hidden, next to the target. */
export function tempPathFor(target: string): string {
  const suffix = `${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  return join(dirname(target), `.${basename(target)}.${suffix}`);
}

/**
 * Writes `target` atomically: creates missing parent folders, lets `write` fill a temp file in
 * the same folder, then renames it over `target` (rename is atomic on one file system). When
 * `write` fails, the temp file and any folder this call created are removed, so a failed or
 * interrupted save never leaves a half-written `target`.
 */
export async function atomicWrite(
  target: string,
  write: (tempPath: string) => Promise<void>,
): Promise<void> {
  const folder = dirname(target);
  const firstCreated = await mkdir(folder, { recursive: true });
  const temp = tempPathFor(target);
  try {
    await write(temp);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    if (firstCreated !== undefined) await removeEmptyFolders(folder, firstCreated);
    throw error;
  }
}

/** Removes `folder` and its parents up to `top` (inclusive) while they are empty. */
async function removeEmptyFolders(folder: string, top: string): Promise<void> {
  let current = folder;
  for (;;) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
    if (current === top || relative(top, current).startsWith('..') || !current.includes(sep))
      return;
    current = dirname(current);
  }
}
