/**
 * Runs the scoring server: listen, log, shut down gracefully on SIGTERM/SIGINT (in-flight requests
 * finish, idle keep-alive connections close), and with `workers > 1` fork a node:cluster of workers
 * that each load the model and share the port. `serveModel` resolves only once a server is
 * listening (in a cluster: once the first worker is), and rejects with {@link ServingStartupError}
 * when the model cannot be loaded.
 */
import type { Cluster, Worker } from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import { ServingStartupError } from './errors.js';
import { compileScoringServerOptions } from './options.js';
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
  /** How long the primary waits for a worker to load the model and listen. @default 300_000 */
  startupTimeoutMs?: number;
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
  startupTimeoutMs: number;
  server: ScoringServerOptions;
}

function compile(options: ServeOptions): CompiledServeOptions {
  const {
    host = '127.0.0.1',
    port = 5000,
    workers = 1,
    handleSignals = true,
    startupTimeoutMs = 300_000,
    ...server
  } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new TypeError(`port must be an integer in 0..65535, got ${port}`);
  if (!Number.isInteger(workers) || workers < 1)
    throw new TypeError(`workers must be an integer ≥ 1, got ${workers}`);
  if (!(startupTimeoutMs > 0))
    throw new TypeError(`startupTimeoutMs must be a positive number, got ${startupTimeoutMs}`);
  const serverOptions = { logger: true, ...server };
  compileScoringServerOptions(serverOptions); // for immediate feedback, in the primary too
  return { host, port, workers, handleSignals, startupTimeoutMs, server: serverOptions };
}

/** Messages a cluster worker sends its primary. */
type WorkerMessage =
  | { kind: 'temporal-mlflow:serving-ready'; url: string }
  | { kind: 'temporal-mlflow:serving-failed'; message: string };

function isWorkerMessage(m: unknown): m is WorkerMessage {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as { kind?: unknown }).kind === 'string' &&
    (m as { kind: string }).kind.startsWith('temporal-mlflow:serving-')
  );
}

/** node:cluster (which loads net, dgram and child_process), loaded when a server has workers. */
let cluster: Cluster | undefined;

function tellPrimary(message: WorkerMessage): void {
  if (cluster?.isWorker && process.send) process.send(message);
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
  if (opts.workers > 1) {
    cluster ??= (await import('node:cluster')).default;
    if (cluster.isPrimary) return startPrimary(opts, cluster);
  }
  let app: FastifyInstance;
  try {
    const loaded = typeof model === 'function' ? await model() : model;
    app = createScoringServer(loaded, opts.server);
    await app.listen({ host: opts.host, port: opts.port });
  } catch (e) {
    tellPrimary({
      kind: 'temporal-mlflow:serving-failed',
      message: e instanceof Error ? e.message : String(e),
    });
    throw e;
  }
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
  tellPrimary({ kind: 'temporal-mlflow:serving-ready', url });
  return { url, app, close };
}

/**
 * Forks the workers; resolves when the first one listens. If a worker fails before any is ready
 * (the model does not load), stops the others and rejects with its error. Afterwards a worker that
 * exits is replaced (after a pause if it could not load the model).
 */
function startPrimary(opts: CompiledServeOptions, cluster: Cluster): Promise<ServingHandle> {
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  let stopping = false;
  let ready = false;
  const failedToLoad = new Set<number>();
  const all = () =>
    Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const stopAll = async () => {
    stopping = true;
    await Promise.all(
      all().map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
  };
  return new Promise<ServingHandle>((resolve, reject) => {
    const fail = (error: ServingStartupError) => {
      if (ready || stopping) return;
      clearTimeout(timer);
      void stopAll().then(() => reject(error));
    };
    const timer = setTimeout(
      () =>
        fail(
          new ServingStartupError(
            `No scoring worker was listening on ${url} after ${opts.startupTimeoutMs} ms`,
          ),
        ),
      opts.startupTimeoutMs,
    );
    const fork = () => {
      const worker = cluster.fork();
      worker.on('message', (m: unknown) => {
        if (!isWorkerMessage(m)) return;
        if (m.kind === 'temporal-mlflow:serving-ready') {
          if (ready) return;
          ready = true;
          clearTimeout(timer);
          const close = stopAll;
          if (opts.handleSignals) onShutdownSignal(close);
          resolve({ url, close });
        } else {
          failedToLoad.add(worker.id);
          fail(
            new ServingStartupError(
              `The scoring worker ${worker.process.pid} could not start: ${m.message}`,
              worker.process.pid,
            ),
          );
        }
      });
    };
    for (let i = 0; i < opts.workers; i++) fork();
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      if (!ready) {
        fail(
          new ServingStartupError(
            `The scoring worker ${worker.process.pid} exited (${signal ?? code}) before listening`,
            worker.process.pid,
          ),
        );
        return;
      }
      const couldNotLoad = failedToLoad.delete(worker.id);
      process.stderr.write(
        `scoring worker ${worker.process.pid} exited (${signal ?? code}); starting another${couldNotLoad ? ' in 5 s' : ''}\n`,
      );
      if (couldNotLoad) setTimeout(() => stopping || fork(), 5000).unref();
      else fork();
    });
  });
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
