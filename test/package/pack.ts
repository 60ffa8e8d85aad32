/**
 * The package as it is published: `npm pack` (whose prepack compiles dist/) run on a copy of the
 * package's files, so packing never touches this working tree (its package.json, a dist/ that the
 * repository's own CLI or tests could pick up).
 */
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../support/services.js';

const run = promisify(execFile);

/** Packs the package into `destination`; returns the tarball's path. */
export async function packPackage(destination: string): Promise<string> {
  const stage = mkdtempSync(join(tmpdir(), 'tm-pack-'));
  try {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      files: string[];
    };
    const copies = [
      ...manifest.files,
      'package.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'bin/pack.js',
    ];
    for (const path of copies) {
      if (!existsSync(join(repoRoot, path))) continue; // dist/: built by prepack
      mkdirSync(join(stage, path, '..'), { recursive: true });
      cpSync(join(repoRoot, path), join(stage, path), { recursive: true });
    }
    symlinkSync(join(repoRoot, 'node_modules'), join(stage, 'node_modules'), 'dir');
    const { stdout } = await run(
      'npm',
      ['pack', '--pack-destination', destination, '--loglevel=error'],
      { cwd: stage, maxBuffer: 64 * 1024 * 1024 },
    );
    return join(destination, stdout.trim().split('\n').pop()!);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
