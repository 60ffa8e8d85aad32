/**
 * Node functions in worker threads, off the caller's event loop: a CPU-bound node no longer
 * starves the activity's heartbeats, cancellation and shutdown, and independent nodes use several
 * cores. A thread loads the project itself (TypeScript through tsx), finds the node by pipeline and
 * node name, receives the arguments by structured clone and posts the result back (ArrayBuffers
 * moved, not copied). One thread runs one node at a time; idle threads are kept, with their
 * project loaded, for the next node. See docs/execution.md.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { types } from 'node:util';
import { SHARE_ENV, Worker, type ResourceLimits } from 'node:worker_threads';
import type { Node } from '../pipeline/node.js';
import { NodeThreadError, UncloneableValueError } from './errors.js';
import type { ThreadReply, ThreadRequest } from './node-thread-protocol.js';
import {
  datasetAt,
  deserializeThrown,
  findUncloneable,
  formatPath,
  type Uncloneable,
} from './node-thread-values.js';
import { inlineExecutor, type NodeExecutor } from './run-node.js';
import { threadBootstrapSource } from '../utils/thread-bootstrap.js';

/** One call of a node function in a thread. */
export interface NodeThreadCall {
  /** Root of the project whose `temporal-mlflow.config.ts` registers the pipeline. */
  readonly projectDir: string;
  /** Registered pipeline name (filters are fine: the node is looked up in the registered pipeline). */
  readonly pipeline: string;
  /** The node, or its name (a `Node` lets errors name the dataset of a bad value). */
  readonly node: Node | string;
  /** The function's arguments, in the form of the node's `inputs` (see `Node.run`). */
  readonly args: readonly unknown[];
  /** Aborting terminates the thread; the call rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
}

export interface NodeThreadPoolOptions {
  /**
   * Idle threads kept per project, their project loaded, for the next nodes; more are ended.
   * @default os.availableParallelism()
   */
  maxIdleThreads?: number;
  /**
   * Threads per project kept loading or idle beyond those running, started as soon as a node
   * takes the last idle one: parallel branches then rarely wait for a project to load. Never more
   * than `maxThreads` with the running ones. @default 1
   */
  spareThreads?: number;
  /** An idle thread ends after this many milliseconds without work (but see `keepIdleThreads`). @default 60_000 */
  idleTimeoutMs?: number;
  /**
   * Idle threads per project that never time out, so that the first node after a quiet spell does
   * not wait for its project to load in a thread (a second or so, and as much CPU for each one
   * loaded): a worker stays as ready as right after a node ran. At most `maxIdleThreads`.
   * @default spareThreads + 1 (the thread the next node takes, and its spare)
   */
  keepIdleThreads?: number;
  /**
   * Nodes of one project running in threads at once; more wait for a thread to be free. Threads
   * beyond the cores add no speed to CPU-bound nodes, and each costs a project load (a second or
   * so) and its memory. @default os.availableParallelism()
   */
  maxThreads?: number;
  /** V8 heap limits of every thread (`worker_threads` `resourceLimits`). @default Node's */
  resourceLimits?: ResourceLimits;
}

interface CompiledPoolOptions {
  readonly maxIdleThreads: number;
  readonly spareThreads: number;
  readonly idleTimeoutMs: number;
  readonly keepIdleThreads: number;
  readonly maxThreads: number;
  readonly resourceLimits: ResourceLimits | undefined;
}

function compileOptions(options: NodeThreadPoolOptions): CompiledPoolOptions {
  const count = (value: number | undefined, field: string, fallback: number, min: number) => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < min)
      throw new RangeError(
        `NodeThreadPoolOptions.${field} must be an integer ≥ ${min}, got ${value}`,
      );
    return value;
  };
  const maxIdleThreads = count(options.maxIdleThreads, 'maxIdleThreads', availableParallelism(), 0);
  const spareThreads = count(options.spareThreads, 'spareThreads', 1, 0);
  return {
    maxIdleThreads,
    spareThreads,
    idleTimeoutMs: count(options.idleTimeoutMs, 'idleTimeoutMs', 60_000, 1),
    keepIdleThreads: Math.min(
      maxIdleThreads,
      count(options.keepIdleThreads, 'keepIdleThreads', spareThreads + 1, 0),
    ),
    maxThreads: count(options.maxThreads, 'maxThreads', availableParallelism(), 1),
    resourceLimits: options.resourceLimits,
  };
}

/** Why a thread stopped answering: it crashed, exited, or was terminated. */
class ThreadDied extends Error {}

interface Pending {
  readonly id: number;
  resolve(reply: ThreadReply): void;
  reject(error: unknown): void;
}

interface NodeThread {
  readonly worker: Worker;
  readonly projectDir: string;
  pending: Pending | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  dead: boolean;
  /** The environment (as JSON) the thread last received. */
  env: string | undefined;
  /** The process's own environment, when the thread shares it (then nothing is sent per call). */
  readonly sharedEnv: NodeJS.ProcessEnv | undefined;
}

/**
 * Worker threads that run node functions, one node per thread at a time, reusing idle threads of
 * the same project. `close()` ends every thread; idle threads never keep the process alive.
 */
export class NodeThreadPool {
  readonly #options: CompiledPoolOptions;
  readonly #idle = new Map<string, NodeThread[]>();
  readonly #threads = new Set<NodeThread>();
  /** Spare threads still loading their project, by project. */
  readonly #loading = new Map<string, NodeThread[]>();
  /** Per project: nodes running in threads, and the calls waiting for one to be free. */
  readonly #slots = new Map<string, { running: number; waiting: (() => void)[] }>();
  #nextId = 1;
  #closed = false;

  constructor(options: NodeThreadPoolOptions = {}) {
    this.#options = compileOptions(options);
  }

  /** Threads alive, busy or idle. */
  get size(): number {
    return this.#threads.size;
  }

  /** Idle threads, their project loaded, waiting for a node. */
  get idle(): number {
    let idle = 0;
    for (const threads of this.#idle.values()) idle += threads.length;
    return idle;
  }

  /** Runs one node function in a thread and returns what it returned. */
  async run(call: NodeThreadCall): Promise<unknown> {
    const name = typeof call.node === 'string' ? call.node : call.node.name;
    const projectDir = resolve(call.projectDir);
    call.signal?.throwIfAborted();
    const inputProblem = findUncloneable(call.args);
    if (inputProblem) throw uncloneableError(call.node, 'input', inputProblem);
    const failed = (reason: string, cause?: unknown) =>
      new NodeThreadError(name, call.pipeline, projectDir, reason, { cause });
    const release = await this.#slot(projectDir, call.signal);
    try {
      return await this.#runInThread(call, name, projectDir, failed);
    } finally {
      release();
    }
  }

  /** Waits until fewer than `maxThreads` nodes of the project run; returns the release. */
  async #slot(projectDir: string, signal: AbortSignal | undefined): Promise<() => void> {
    let slots = this.#slots.get(projectDir);
    if (!slots) this.#slots.set(projectDir, (slots = { running: 0, waiting: [] }));
    const project = slots;
    while (project.running >= this.#options.maxThreads) {
      await new Promise<void>((resolve) => project.waiting.push(resolve));
      if (signal?.aborted) {
        // Hand the free thread on to the next waiting node before giving up.
        project.waiting.shift()?.();
        signal.throwIfAborted();
      }
    }
    project.running++;
    return () => {
      project.running--;
      project.waiting.shift()?.();
    };
  }

  async #runInThread(
    call: NodeThreadCall,
    name: string,
    projectDir: string,
    failed: (reason: string, cause?: unknown) => NodeThreadError,
  ): Promise<unknown> {
    const thread = this.#acquire(projectDir);
    let reply: ThreadReply;
    try {
      // Nodes read process.env as the caller sees it now (not as it was when the thread started;
      // under Jest, the test file's process.env, which is not the process's). A thread sharing the
      // process's environment sees it live: reading all of it per call cost ~0.1 ms per node.
      const shared = thread.sharedEnv === process.env;
      const env = shared ? undefined : JSON.stringify(process.env);
      const changed = !shared && env !== thread.env;
      thread.env = env;
      reply = await this.#request(
        thread,
        {
          id: this.#nextId++,
          kind: 'call',
          pipeline: call.pipeline,
          node: name,
          args: call.args,
          ...(changed ? { env: { ...process.env } as Record<string, string> } : {}),
        },
        call.signal,
      );
    } catch (error) {
      if (error instanceof ThreadDied) throw failed(error.message, error.cause);
      if (isDataCloneError(error))
        throw uncloneableError(call.node, 'input', { path: [], found: (error as Error).message });
      throw error;
    }
    switch (reply.kind) {
      case 'result':
        return reply.result;
      case 'thrown':
        throw deserializeThrown(reply.thrown);
      case 'uncloneable':
        throw uncloneableError(call.node, 'output', reply);
      case 'lookup':
        throw failed(reply.reason);
      default:
        throw failed(`the thread answered '${reply.kind}' to a call`);
    }
  }

  /**
   * Starts `count` threads for a project and loads it in them, so that the first nodes do not wait
   * for the project to load (a second or so for a TypeScript project). Rejects with
   * `NodeThreadError` when the project does not load in a thread.
   */
  async prestart(projectDir: string, count = 1): Promise<void> {
    const dir = resolve(projectDir);
    const threads = Array.from({ length: count }, () => this.#spawn(dir));
    await Promise.all(
      threads.map(async (thread) => {
        let reply: ThreadReply;
        try {
          reply = await this.#request(thread, { id: this.#nextId++, kind: 'load' });
        } catch (error) {
          throw new NodeThreadError('(prestart)', '(any)', dir, (error as Error).message, {
            cause: error,
          });
        }
        if (reply.kind === 'lookup')
          throw new NodeThreadError('(prestart)', '(any)', dir, reply.reason);
      }),
    );
  }

  /** Ends every thread (running nodes fail with `NodeThreadError`); the pool accepts no more calls. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#threads].map((thread) => this.#discard(thread)));
  }

  #acquire(projectDir: string): NodeThread {
    if (this.#closed) throw new Error('This NodeThreadPool is closed.');
    let thread = this.#idle.get(projectDir)?.pop();
    if (thread) {
      clearTimeout(thread.idleTimer);
      thread.idleTimer = undefined;
    } else if ((thread = this.#loading.get(projectDir)?.shift())) {
      // A spare still loading is further along than a new thread: the call waits for the load
      // in the thread. Its load request is done with, as far as this side is concerned.
      const load = thread.pending;
      thread.pending = undefined;
      load?.resolve({ id: load.id, kind: 'loaded' });
    } else {
      thread = this.#spawn(projectDir);
    }
    thread.worker.ref();
    this.#startSpares(projectDir);
    return thread;
  }

  /**
   * Starts threads loading the project until `spareThreads` are idle or loading, never more than
   * `maxThreads` threads with those running: a spare beyond them could not run a node before one
   * of theirs is free, and only loads the project for nothing (a quarter of a second of CPU on a
   * busy worker, for every parallel step of a training).
   */
  #startSpares(projectDir: string): void {
    const loading = this.#loading.get(projectDir) ?? [];
    this.#loading.set(projectDir, loading);
    const running = this.#slots.get(projectDir)?.running ?? 0;
    const wanted = Math.min(
      this.#options.spareThreads,
      this.#options.maxIdleThreads,
      this.#options.maxThreads - running,
    );
    while ((this.#idle.get(projectDir)?.length ?? 0) + loading.length < wanted) {
      const spare = this.#spawn(projectDir);
      loading.push(spare);
      spare.worker.unref();
      this.#request(spare, { id: this.#nextId++, kind: 'load' })
        // A spare that cannot load is discarded; the next node to need the project reports why.
        .catch(() => undefined)
        .finally(() => {
          const at = loading.indexOf(spare);
          if (at >= 0) loading.splice(at, 1);
        });
    }
  }

  #spawn(projectDir: string): NodeThread {
    // A test runner's process.env is a proxy of its own, not the process's: such a caller's
    // environment is sent to the thread when it changes.
    const sharedEnv = types.isProxy(process.env) ? undefined : process.env;
    const worker = new Worker(threadBootstrapSource(import.meta.url, 'node-thread-entry'), {
      eval: true,
      workerData: { projectDir },
      ...(sharedEnv ? { env: SHARE_ENV } : {}),
      ...(this.#options.resourceLimits ? { resourceLimits: this.#options.resourceLimits } : {}),
    });
    const thread: NodeThread = {
      worker,
      projectDir,
      pending: undefined,
      idleTimer: undefined,
      dead: false,
      env: undefined,
      sharedEnv,
    };
    const die = (reason: string, cause?: unknown): void => {
      thread.dead = true;
      const pending = thread.pending;
      thread.pending = undefined;
      pending?.reject(new ThreadDied(reason, { cause }));
      void this.#discard(thread);
    };
    worker.on('message', (reply: ThreadReply) => {
      const pending = thread.pending;
      if (!pending || reply.id !== pending.id) return;
      thread.pending = undefined;
      this.#release(thread);
      pending.resolve(reply);
    });
    worker.on('error', (error) =>
      die(`the thread failed: ${error instanceof Error ? error.message : String(error)}`, error),
    );
    worker.on('exit', (code) => die(`the thread exited with code ${code}`));
    this.#threads.add(thread);
    return thread;
  }

  #request(thread: NodeThread, request: ThreadRequest, signal?: AbortSignal): Promise<ThreadReply> {
    return new Promise<ThreadReply>((resolvePromise, rejectPromise) => {
      const onAbort = (): void => {
        if (thread.pending?.id !== request.id) return;
        thread.pending = undefined;
        rejectPromise(signal!.reason);
        void this.#discard(thread);
      };
      const settle =
        <T>(fn: (value: T) => void) =>
        (value: T): void => {
          signal?.removeEventListener('abort', onAbort);
          fn(value);
        };
      thread.pending = {
        id: request.id,
        resolve: settle(resolvePromise),
        reject: settle(rejectPromise),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        thread.worker.postMessage(request);
      } catch (error) {
        thread.pending.reject(error);
        thread.pending = undefined;
        this.#release(thread);
      }
    });
  }

  #release(thread: NodeThread): void {
    const idle = this.#idle.get(thread.projectDir) ?? [];
    if (thread.dead || this.#closed || idle.length >= this.#options.maxIdleThreads) {
      void this.#discard(thread);
      return;
    }
    idle.push(thread);
    this.#idle.set(thread.projectDir, idle);
    thread.worker.unref();
    if (idle.length > this.#options.keepIdleThreads) this.#expireLater(thread);
  }

  /** Ends an idle thread after the idle timeout, unless it is among the project's kept ones then. */
  #expireLater(thread: NodeThread): void {
    thread.idleTimer = setTimeout(() => {
      thread.idleTimer = undefined;
      const idle = this.#idle.get(thread.projectDir) ?? [];
      if (idle.length > this.#options.keepIdleThreads) void this.#discard(thread);
    }, this.#options.idleTimeoutMs);
    thread.idleTimer.unref();
  }

  async #discard(thread: NodeThread): Promise<void> {
    clearTimeout(thread.idleTimer);
    const idle = this.#idle.get(thread.projectDir);
    const at = idle?.indexOf(thread) ?? -1;
    if (at >= 0) idle!.splice(at, 1);
    if (!this.#threads.delete(thread)) return;
    thread.dead = true;
    await thread.worker.terminate();
  }
}

let sharedPool: NodeThreadPool | undefined;

/** The pool `runNodeFunctionInThread` and `threadExecutor()` use unless given another. */
export function defaultNodeThreadPool(): NodeThreadPool {
  sharedPool ??= new NodeThreadPool();
  return sharedPool;
}

/**
 * Runs one node function in a worker thread (of the default pool) and returns its result.
 *
 * @example
 * const model = await runNodeFunctionInThread({ projectDir, pipeline: 'training', node: 'fit', args: [x, y] });
 */
export function runNodeFunctionInThread(call: NodeThreadCall): Promise<unknown> {
  return defaultNodeThreadPool().run(call);
}

export interface ThreadExecutorOptions {
  /** @default defaultNodeThreadPool() */
  pool?: NodeThreadPool;
}

/**
 * A `NodeExecutor` for `runNode` and the local runner: each node function runs in a worker thread
 * of the project `run.projectDir`, looked up in the registered pipeline `run.pipelineName`; nodes
 * declared with `thread: false`, and async functions, stay on the event loop.
 */
export function threadExecutor(options: ThreadExecutorOptions = {}): NodeExecutor {
  return async (call) => {
    // An async function yields to the event loop while it waits (I/O, timers): it stays there,
    // where it costs no thread and runs beside the others. Synchronous functions, where CPU-bound
    // work lives, go to threads.
    if (!call.node.thread || isAsyncFunction(call.node.func)) return inlineExecutor(call);
    const pool = options.pool ?? defaultNodeThreadPool();
    return pool.run({
      projectDir: call.run.projectDir,
      pipeline: call.run.pipelineName,
      node: call.node,
      args: call.args,
      signal: call.signal,
    });
  };
}

function isAsyncFunction(fn: unknown): boolean {
  return typeof fn === 'function' && fn.constructor?.name === 'AsyncFunction';
}

function uncloneableError(
  node: Node | string,
  direction: 'input' | 'output',
  problem: Uncloneable,
): UncloneableValueError {
  if (typeof node === 'string') {
    const path =
      direction === 'input' ? `arguments${formatPath(problem.path)}` : formatPath(problem.path);
    return new UncloneableValueError(node, direction, undefined, path, problem.found);
  }
  const spec = direction === 'input' ? node.inputSpec : node.outputSpec;
  const { dataset, rest } = datasetAt(spec, problem.path, direction);
  return new UncloneableValueError(node.name, direction, dataset, formatPath(rest), problem.found);
}

function isDataCloneError(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'DataCloneError';
}
