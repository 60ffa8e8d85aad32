/**
 * The CLI a package user gets: commands load lazily (`--help` imports no Temporal worker, esbuild,
 * fastify or arrow), and `services` installs and runs the local servers from a per-user folder.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildFullProgram, commandSummaries } from '../../src/cli/main.js';
import { repoRoot, serviceAddress, services, temporalCli } from '../support/services.js';
import { writeLoadTracer } from './load-tracer.js';

const exec = promisify(execFile);
const bin = join(repoRoot, 'bin', 'temporal-mlflow.js');
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'tm-cli-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('lazy commands', () => {
  it('lists every command with the description the command itself has', async () => {
    const program = await buildFullProgram();
    const real = Object.fromEntries(program.commands.map((c) => [c.name(), c.description()]));
    expect(commandSummaries).toEqual(real);
  });

  /** The CLI run printing every package module it resolves; stdout and those modules. */
  async function traced(
    args: string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<{ stdout: string; loaded: string }> {
    const register = writeLoadTracer(scratch);
    const { stdout, stderr } = await exec(process.execPath, ['--import', register, bin, ...args], {
      ...options,
    });
    const loaded = stderr
      .split('\n')
      .filter((line) => line.startsWith('ESM ') || line.startsWith('CJS '))
      .join('\n');
    return { stdout, loaded };
  }

  // From sources tsx compiles with esbuild; the compiled CLI loads no esbuild either (installed.test.ts).
  it('answers --help without loading the Temporal worker, fastify or arrow', async () => {
    const { stdout, loaded } = await traced(['--help']);
    expect(stdout).toContain('services');
    for (const heavy of ['@temporalio/worker', '@temporalio/client', 'fastify', 'apache-arrow'])
      expect(loaded).not.toContain(`/node_modules/${heavy}/`);
  }, 60_000);

  it('starts a training without loading the Temporal worker (its native core) or arrow, nor the client over the HTTP API', async () => {
    const env = { ...process.env, ...services() };
    const workflowIds: string[] = [];
    try {
      // Over gRPC (no HTTP API given), and over Temporal's HTTP API.
      for (const httpAddress of ['', serviceAddress('TEMPORAL_HTTP_ADDRESS')]) {
        const taskQueue = `no-worker-${randomUUID()}`;
        const workflowId = `train-${taskQueue}`;
        workflowIds.push(workflowId);
        const { stdout, loaded } = await traced(
          [
            'train',
            '--pipeline',
            'diamond',
            '--task-queue',
            taskQueue,
            '--workflow-id',
            workflowId,
          ],
          {
            cwd: join(repoRoot, 'test', 'fixtures', 'temporal-project'),
            env: { ...env, TEMPORAL_HTTP_ADDRESS: httpAddress },
          },
        );
        expect(stdout).toContain(`no worker polls queue ${taskQueue}`);
        if (httpAddress) expect(loaded).not.toContain('/node_modules/@temporalio/client/');
        else expect(loaded).toContain('/node_modules/@temporalio/client/');
        for (const heavy of ['@temporalio/worker', '@temporalio/core-bridge', 'apache-arrow'])
          expect(loaded).not.toContain(`/node_modules/${heavy}/`);
      }
    } finally {
      for (const workflowId of workflowIds)
        spawnSync(temporalCli, [
          'workflow',
          'terminate',
          '--address',
          env.TEMPORAL_ADDRESS,
          '-w',
          workflowId,
        ]);
    }
  }, 120_000);

  it("passes a command's own --help through to the real command", async () => {
    const { stdout } = await exec(process.execPath, [bin, 'run', '--help']);
    expect(stdout).toContain('--pipeline <name>');
  }, 60_000);
});

describe('temporal-mlflow services', () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, [bin, 'services', ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });

  it('says Python >= 3.10 is needed, and how to get it, when there is none', () => {
    const home = join(scratch, 'no-python');
    const result = cli(['start'], { TEMPORAL_MLFLOW_HOME: home, PYTHON: join(home, 'python3') });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('PythonNotFoundError: The local MLflow and Temporal servers');
    expect(result.stderr).toContain('need Python >= 3.10');
    expect(result.stderr).toContain('or set PYTHON to one');
  });

  it('says what is not installed yet in status', () => {
    const result = cli(['status'], { TEMPORAL_MLFLOW_HOME: join(scratch, 'empty') });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("not installed yet: 'services start' installs");
  });

  it('starts, reports and stops servers kept in the per-user folder', () => {
    // The per-user venv is this repository's (installed by setup): same pins, no second pip install.
    const home = join(scratch, 'home');
    mkdirSync(home, { recursive: true });
    symlinkSync(join(repoRoot, '.venv'), join(home, 'venv'), 'dir');
    const pins = readFileSync(join(repoRoot, 'scripts', 'python-requirements.txt'));
    mkdirSync(join(home, 'local'), { recursive: true });
    writeFileSync(
      join(home, 'local', 'venv-requirements.stamp'),
      `${createHash('sha256').update(pins).digest('hex').slice(0, 16)}\n`,
    );
    const env = { TEMPORAL_MLFLOW_HOME: home };
    try {
      const started = cli(['start'], env);
      expect({ status: started.status, stderr: started.stderr }).toMatchObject({ status: 0 });
      expect(started.stdout).toMatch(/MLFLOW_TRACKING_URI=http:\/\/127\.0\.0\.1:\d+/);
      const status = cli(['status'], env);
      expect(status.status).toBe(0);
      expect(status.stdout).toMatch(/temporal: running on 127\.0\.0\.1:\d+/);
    } finally {
      const stopped = cli(['stop'], env);
      expect(stopped.stdout).toContain('stopped temporal');
    }
  }, 240_000);
});
