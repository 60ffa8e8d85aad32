/**
 * Runs the scoring server: listen, log, shut down gracefully on SIGTERM/SIGINT (in-flight requests
 * finish, idle keep-alive connections close), and with `workers > 1` fork a node:cluster of workers
 * that each load the model and share the port.
 */
import cluster from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import { createScoringServer } from './server.js';
import type { ScoringServerOptions } from './server.js';
import type { ScoringModel } from './types.js';

/** Options of {@link serveModel}. */
export interface ServeOptions extends ScoringServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 5000 (as `mlflow models serve`) */
  port?: number;
  /**
   * Worker processes. With more than one, the primary forks workers with node:cluster (they re-run
   * the current entry point, which calls `serveModel` again and loads the model). @default 1
   */
  workers?: number;
  /** Handle SIGTERM/SIGINT by closing gracefully, then exit. @default true */
  handleSignals?: boolean;
}

/** What {@link serveModel} returns: the address and a graceful `close`. */
export interface ServingHandle {
  /** `http://host:port` (in a cluster primary, the address the workers listen on). */
  readonly url: string;
  /** The fastify instance (absent in a cluster primary). */
  readonly app?: FastifyInstance;
  close(): Promise<void>;
}

interface CompiledServeOptions {
  host: string;
  port: number;
  workers: number;
  handleSignals: boolean;
  server: ScoringServerOptions;
}

function compile(options: ServeOptions): CompiledServeOptions {
  const { host = '127.0.0.1', port = 5000, workers = 1, handleSignals = true, ...server } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new TypeError(`port must be an integer in 0..65535, got ${port}`);
  if (!Number.isInteger(workers) || workers < 1)
    throw new TypeError(`workers must be an integer ≥ 1, got ${workers}`);
  return { host, port, workers, handleSignals, server: { logger: true, ...server } };
}

/**
 * Serves a model. `model` may be a loaded model or a loader (with `workers > 1`, pass a loader: the
 * primary never loads the model, each worker does).
 */
export async function serveModel(
  model: ScoringModel | (() => Promise<ScoringModel>),
  options: ServeOptions = {},
): Promise<ServingHandle> {
  const opts = compile(options);
  if (opts.workers > 1 && cluster.isPrimary) return startPrimary(opts);
  const loaded = typeof model === 'function' ? await model() : model;
  const app = createScoringServer(loaded, opts.server);
  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= app.close());
  if (opts.handleSignals)
    onShutdownSignal(async () => {
      app.log.info('shutting down: finishing in-flight requests');
      await close();
    });
  return { url, app, close };
}

function startPrimary(opts: CompiledServeOptions): ServingHandle {
  const url = `http://${opts.host}:${opts.port}`;
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < opts.workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    process.stderr.write(
      `scoring worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`,
    );
    fork();
  });
  const close = async () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
  };
  if (opts.handleSignals) onShutdownSignal(close);
  return { url, close };
}

function onShutdownSignal(shutdown: () => Promise<void>): void {
  let started = false;
  const handler = (signal: NodeJS.Signals) => {
    if (started) return;
    started = true;
    shutdown().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`error during shutdown on ${signal}: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
