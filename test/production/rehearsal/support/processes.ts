/**
 * Child processes of the rehearsal: each in its own process group (servers fork workers), its
 * output kept in a log file, stopped by pid (group included) — `stopAllProcesses()` in `afterAll`
 * stops whatever is left, even when a test failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../../support/services.js';
export { freePort } from '../../../support/ports.js';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<ProcessExit>;
  /** stdout and stderr so far. */
  output(): string;
  /** `signal` to the process group, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ProcessExit>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const live = new Set<StartedProcess>();
let logs: string | undefined;
export const logDir = (): string => (logs ??= mkdtempSync(join(tmpdir(), 'tm-rehearsal-logs-')));

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: StartOptions = {},
): StartedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logFile = join(logDir(), `${name}-${child.pid}.log`);
  const log = createWriteStream(logFile);
  let text = '';
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    log.write(chunk);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('error', (error) => {
      text += `\n${String(error)}`;
      resolve({ code: -1, signal: null });
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const started: StartedProcess = {
    name,
    child,
    pid: child.pid ?? -1,
    logFile,
    exited,
    output: () => text,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) {
      const kill = (s: NodeJS.Signals): void => {
        try {
          process.kill(-started.pid, s);
        } catch {
          // The group is gone.
        }
      };
      if (child.exitCode === null && child.signalCode === null) kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const forced = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          kill('SIGKILL');
          resolve();
        }, graceMs);
      });
      const exit = await Promise.race([exited, forced.then(() => exited)]);
      clearTimeout(timer);
      // Whatever the leader left behind in its group goes too.
      kill('SIGKILL');
      live.delete(started);
      log.end();
      return exit;
    },
  };
  live.add(started);
  void exited.then(() => live.delete(started));
  return started;
}

/** Stops every process still running (SIGTERM, then SIGKILL after 5 s). */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop('SIGTERM', 5_000)));
}

/** Thrown by a `waitUntil` probe to stop waiting at once (the process it waits for died). */
export class GaveUp extends Error {
  override readonly name = 'GaveUp';
}

/** Polls `probe` until it returns a value other than `undefined`/`false`; throws after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (error instanceof GaveUp) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The environment of this test process without the shared servers' addresses and credentials. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(TEMPORAL_|MLFLOW_)/.test(key)) delete env[key];
  }
  return { ...env, ...extra };
}

/** Runs `temporal-mlflow <args>` to the end; kills its group after `timeoutMs`. */
export async function runCli(
  args: string[],
  options: StartOptions & { timeoutMs?: number } = {},
): Promise<ProcessExit & { output: string }> {
  const cli = startProcess(
    `cli-${args[0]}`,
    process.execPath,
    [join(repoRoot, 'bin', 'temporal-mlflow.js'), ...args],
    options,
  );
  const timer = setTimeout(() => void cli.stop('SIGKILL', 0), options.timeoutMs ?? 120_000);
  const exit = await cli.exited;
  clearTimeout(timer);
  await cli.stop();
  return { ...exit, output: cli.output() };
}
