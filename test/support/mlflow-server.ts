/** A second, private MLflow server for tests of workers that talk to different servers. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './services.js';
import { freePort } from './ports.js';

export interface PrivateMlflowServer {
  uri: string;
  /** Stops the server and its workers (its whole process group). */
  stop(): Promise<void>;
}

/** Starts `mlflow server` on a free loopback port with its own SQLite store; waits for /health. */
export async function startPrivateMlflowServer(timeoutMs = 90_000): Promise<PrivateMlflowServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-mlflow-'));
  const port = await freePort();
  const child = spawn(
    join(repoRoot, '.venv', 'bin', 'mlflow'),
    [
      'server',
      '--backend-store-uri',
      `sqlite:///${join(dir, 'mlflow.db')}`,
      '--artifacts-destination',
      join(dir, 'artifacts'),
      '--serve-artifacts',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
    ],
    {
      detached: true,
      stdio: 'ignore',
      env: {
        ...process.env,
        PATH: `${join(repoRoot, '.venv', 'bin')}:${process.env.PATH}`,
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
        MLFLOW_DISABLE_TELEMETRY: 'true',
      },
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await exited;
    }
  };
  const uri = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${uri}/health`);
      if (response.ok) return { uri, stop };
    } catch {
      // Not listening yet.
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`MLflow server on port ${port} did not become healthy`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
