/**
 * A user's first hour, from the packed tarball, with no hand edits: a fresh `npm init -y` folder
 * installs the package, `temporal-mlflow new .` scaffolds the project, `npm install` adds its
 * tools, then `run`, `npm test`, a worker + `train --wait` on the real Temporal and MLflow servers,
 * `predict`, `serve` + one request, and the user's own `tsc --noEmit`.
 *
 * Slow (one `npm pack` with its tsc build, and one install whose native better-sqlite3 is compiled
 * when no prebuilt binary can be fetched): about 6–8 minutes on a 2-core machine, most of it the
 * install. Every step after it shares that one install.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { services } from '../support/services.js';
import { packPackage } from './pack.js';
import { freePort } from '../support/ports.js';
import { writeLoadTracer } from './load-tracer.js';

const exec = promisify(execFile);
let root: string;
let project: string;
const children: ChildProcess[] = [];

const npm = (args: string[], env?: NodeJS.ProcessEnv) =>
  exec('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
    cwd: project,
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });

/** The CLI as the user runs it (`npx temporal-mlflow ...`), with the real servers' addresses. */
const cli = (args: string[], env: NodeJS.ProcessEnv = { ...services() }) =>
  exec(join(project, 'node_modules', '.bin', 'temporal-mlflow'), args, {
    cwd: project,
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });

function startCli(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(join(project, 'node_modules', '.bin', 'temporal-mlflow'), args, {
    cwd: project,
    env: { ...process.env, ...services() },
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

/** Polls `check` every 100 ms until it holds or `ms` pass. */
async function waitFor(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tm-installed-'));
  const tarball = await packPackage(root);
  project = join(root, 'my-project');
  await exec('mkdir', [project]);
  await npm(['init', '-y']);
  // better-sqlite3 has no reachable prebuilt binary here: build it at once instead of timing out.
  // --engine-strict: the install fails if any dependency's `engines` excludes this Node (cookie@2,
  // pulled in through fastify's light-my-request, wants Node 22: the package pins a version that doesn't).
  await npm(['install', tarball, '--engine-strict'], { npm_config_build_from_source: 'true' });
}, 900_000);

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe('a project made from the packed package', () => {
  let modelUri: string;

  it('is scaffolded by `new` into the npm init folder and installs its tools', async () => {
    const { stdout } = await cli(['new', '.']);
    expect(stdout).toContain('npx temporal-mlflow run');
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as {
      type: string;
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    expect(manifest.type).toBe('module');
    expect(Object.keys(manifest.scripts)).toEqual(
      expect.arrayContaining(['run', 'train', 'worker', 'test']),
    );
    expect(manifest.dependencies['temporal-mlflow']).toMatch(/^file:/);
    expect(readFileSync(join(project, '.gitignore'), 'utf8')).toContain('conf/local/**');
    await npm(['install']);
  }, 300_000);

  /** Runs the installed CLI, printing `ESM <url>` / `CJS <path>` for each package module it loads. */
  async function tracedCli(args: string[]): Promise<string> {
    const register = writeLoadTracer(root);
    const bin = join(project, 'node_modules', 'temporal-mlflow', 'bin', 'temporal-mlflow.js');
    return (await exec(process.execPath, ['--import', register, bin, ...args])).stderr;
  }

  it('answers --help from compiled code without loading the worker, esbuild, fastify or arrow', async () => {
    const stderr = await tracedCli(['--help']);
    expect(stderr).toContain('/temporal-mlflow/dist/bundle/cli.js');
    for (const heavy of ['@temporalio/worker', 'esbuild', 'fastify', 'apache-arrow', 'tsx'])
      expect(stderr).not.toContain(`/node_modules/${heavy}/`);
  });

  it('requires the Temporal client rather than importing it (no lexing of its CommonJS for names)', async () => {
    // `approvals` lists trainings waiting for an approval: a command that talks to Temporal.
    const stderr = await tracedCli(['approvals']);
    expect(stderr).toMatch(/^CJS .*\/node_modules\/@temporalio\/client\/lib\/index\.js$/m);
    expect(stderr).not.toMatch(/^ESM .*\/node_modules\/@temporalio\//m);
    // A command's help loads none of it.
    expect(await tracedCli(['train', '--help'])).not.toContain('/node_modules/@temporalio/client/');
  });

  it('loads the project as ES modules in a folder without package.json or with "type": "commonjs"', async () => {
    for (const manifest of [undefined, '{ "name": "plain", "type": "commonjs" }']) {
      const dir = mkdtempSync(join(root, 'layout-'));
      for (const path of ['temporal-mlflow.config.ts', 'src', 'conf'])
        cpSync(join(project, path), join(dir, path), { recursive: true });
      symlinkSync(join(project, 'node_modules'), join(dir, 'node_modules'), 'dir');
      if (manifest) writeFileSync(join(dir, 'package.json'), manifest);
      const { stdout } = await exec(
        join(project, 'node_modules', '.bin', 'temporal-mlflow'),
        ['viz'],
        {
          cwd: dir,
        },
      );
      expect(stdout).toContain('fit_line');
    }
  }, 120_000);

  it('runs the pipeline in process, passes its own tests and type-checks with the user tsc', async () => {
    const { stdout, stderr } = await cli(['run'], {});
    expect(stdout + stderr).toContain("Pipeline '__default__' completed: 2 nodes.");
    const test = await npm(['test']);
    expect(test.stdout).toMatch(/# pass 2/);
    await exec(join(project, 'node_modules', '.bin', 'tsc'), ['--noEmit'], { cwd: project });
  }, 180_000);

  it('trains on Temporal with a worker and logs the model to MLflow', async () => {
    const taskQueue = `installed-${randomUUID()}`;
    const worker = startCli(['worker', '--task-queue', taskQueue, '--log-level', 'WARN']);
    expect(await waitFor(() => worker.output().includes('"msg":"worker started"'), 120_000)).toBe(
      true,
    );
    const { stdout } = await cli(['train', '--task-queue', taskQueue, '--wait']);
    expect(stdout).toContain('Training completed: 2 nodes');
    const match = /Model URIs: +(models:\/m-[0-9a-f]+)/.exec(stdout);
    expect(match).not.toBeNull();
    modelUri = match![1]!;
    worker.child.kill('SIGTERM');
  }, 300_000);

  it('predicts with the logged model and serves it over HTTP', async () => {
    const { stdout } = await cli(['predict', '-m', modelUri, '-i', 'data/01_raw/instances.csv']);
    expect(stdout).toMatch(/"y":\s*1\.038/);

    const port = await freePort();
    const server = startCli(['serve', '-m', modelUri, '--port', String(port)]);
    const url = `http://127.0.0.1:${port}`;
    const up = await waitFor(
      () =>
        fetch(`${url}/ping`)
          .then((res) => res.ok)
          .catch(() => false),
      120_000,
    );
    expect({ up, output: up ? '' : server.output() }).toEqual({ up: true, output: '' });
    const response = await fetch(`${url}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dataframe_records: [{ x: 10 }] }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { predictions: Array<{ y: number }> };
    expect(body.predictions[0]!.y).toBeCloseTo(20.95, 1);
    server.child.kill('SIGTERM');
  }, 180_000);
});
