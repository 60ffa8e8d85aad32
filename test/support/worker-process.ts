import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, services } from './services.js';

/** A `temporal-mlflow worker` child process, for tests that kill or stop workers. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr of the child, for debugging a failed test. */
  readonly logFile: string;
  /** Resolves when the worker printed its `worker started` line; rejects if it exits first. */
  readonly ready: Promise<void>;
  /** Resolves with the exit code (or `null` when a signal ended it). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (SIGTERM by default) and waits for the child to exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the child printed so far. */
  output(): string;
}

export interface SpawnWorkerOptions {
  projectDir: string;
  /** @default the project's own queue (`temporal-mlflow/<project>/<env>`) */
  taskQueue?: string;
  /** Extra CLI arguments (`--store mlflow`, `--shutdown-grace 10s`, ...). */
  args?: string[];
  /** Extra environment; TEMPORAL_ADDRESS and MLFLOW_TRACKING_URI come from `services()`. */
  env?: Record<string, string>;
  /** How long `ready` may take (bundling the workflows takes a few seconds). @default 60000 */
  readyTimeoutMs?: number;
}

const logDir = (): string => mkdtempSync(join(tmpdir(), 'tm-worker-logs-'));
let logs: string | undefined;
const spawned = new Set<ChildProcess>();

/** Spawns `node bin/temporal-mlflow.js worker --project <dir> --task-queue <q> ...args`. */
export function spawnWorker(options: SpawnWorkerOptions): WorkerProcess {
  const { TEMPORAL_ADDRESS, MLFLOW_TRACKING_URI } = services();
  const child = spawn(
    process.execPath,
    [
      join(repoRoot, 'bin', 'temporal-mlflow.js'),
      'worker',
      '--project',
      options.projectDir,
      ...(options.taskQueue ? ['--task-queue', options.taskQueue] : []),
      '--log-level',
      'WARN',
      ...(options.args ?? []),
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, TEMPORAL_ADDRESS, MLFLOW_TRACKING_URI, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  spawned.add(child);
  logs ??= logDir();
  const logFile = join(logs, `worker-${child.pid}.log`);
  const log = createWriteStream(logFile);
  let text = '';
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    log.write(chunk);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      spawned.delete(child);
      log.end();
      resolve({ code, signal });
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `worker ${child.pid} did not start within ${options.readyTimeoutMs ?? 60_000} ms; log: ${logFile}\n${text}`,
          ),
        ),
      options.readyTimeoutMs ?? 60_000,
    );
    const check = (): void => {
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          if ((JSON.parse(line) as { msg?: string }).msg === 'worker started') {
            clearTimeout(timer);
            child.stdout!.off('data', check);
            return resolve();
          }
        } catch {
          // A partial line: wait for the rest.
        }
      }
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(
          `worker ${child.pid} exited (code ${code}, signal ${signal}) before it started; log: ${logFile}\n${text}`,
        ),
      );
    });
  });
  // A test that never awaits `ready` must not die of an unhandled rejection.
  ready.catch(() => undefined);

  return {
    child,
    pid: child.pid!,
    logFile,
    ready,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    output: () => text,
  };
}

/** Kills (SIGKILL) every worker child still alive: for `afterAll`, so no test leaks a process. */
export async function killAllWorkers(): Promise<void> {
  const alive = [...spawned];
  await Promise.all(
    alive.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** Polls `probe` every `intervalMs` until it returns true; throws after `timeoutMs`. */
export async function waitFor(
  probe: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Process ids that executed `node`, in order, from the fixture project's $TEST_EXECUTIONS_DIR. */
export function executionPids(dir: string, node: string): number[] {
  try {
    return readFileSync(join(dir, node), 'utf8')
      .trim()
      .split('\n')
      .map((line) => Number(line.split(' ')[1]));
  } catch {
    return [];
  }
}

/**
 * A Temporal client for a test file that spawns worker processes: connected before the tests,
 * closed (and every spawned worker killed) after them. Call at the top level of the file.
 */
export function useTemporalClientWithWorkers(): () => Client {
  let connection: Connection | undefined;
  let client: Client | undefined;
  beforeAll(async () => {
    connection = await Connection.connect({ address: services().TEMPORAL_ADDRESS });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await killAllWorkers();
    await connection?.close();
  });
  return () => {
    if (!client) throw new Error('the Temporal client is used before beforeAll connected it');
    return client;
  };
}
