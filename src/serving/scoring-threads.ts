/**
 * Worker threads for large scoring requests: each loads its own copy of the model and scores one
 * request at a time, with its own heap, so parsing, scoring and garbage collection of a 16 MB body
 * never hold the server's event loop (health checks, small requests). The raw body is moved to the
 * thread (not copied) and the answer's bytes moved back. Requests wait in a queue, with their raw
 * body only, while every thread is busy. A thread that dies is replaced; when no thread can load
 * the model, requests are scored on the event loop instead (see `available`).
 */
import { Worker } from 'node:worker_threads';
import { ServingError } from './errors.js';
import type { ThreadModelSource } from './options.js';
import { threadBootstrapSource } from '../utils/thread-bootstrap.js';
import type {
  ScoringThreadData,
  ScoringThreadMessage,
  ThreadLogEntry,
} from './scoring-thread-protocol.js';

/** A thread's answer: status, the JSON body as bytes, and what to log. */
export interface ThreadAnswer {
  status: number;
  json: Buffer;
  warnings: string[];
  log?: ThreadLogEntry;
}

interface Job {
  id: number;
  body: Uint8Array;
  contentType: string | undefined;
  resolve(answer: ThreadAnswer): void;
  reject(error: unknown): void;
}

interface ScoringThread {
  worker: Worker;
  loaded: boolean;
  job: Job | undefined;
}

/** Loads with `loadModel` (host side: this package's version), for a model loaded from a folder. */
export function folderSource(dir: string): ThreadModelSource {
  return {
    // A literal URL: the published build points it at its own load-model module (bin/pack.js).
    module: new URL('../model/load-model.ts', import.meta.url).href,
    exportName: 'loadModel',
    args: [dir],
  };
}

/** How often a thread that failed to load is started again before the pool gives up. */
const MAX_LOAD_FAILURES = 3;

export class ScoringThreadPool {
  readonly #threads = new Set<ScoringThread>();
  readonly #queue: Job[] = [];
  #nextId = 1;
  #loadFailures = 0;
  #closed = false;
  #failure: string | undefined;
  readonly ready: Promise<void>;
  #settleReady: () => void = () => {};

  constructor(
    private readonly data: ScoringThreadData,
    private readonly count: number,
    private readonly onLog: (level: 'info' | 'warn' | 'error', message: string) => void,
  ) {
    this.ready = new Promise<void>((resolve) => (this.#settleReady = resolve));
    for (let i = 0; i < count; i++) this.#spawn();
  }

  /** False once no thread could load the model: the caller scores on the event loop. */
  get available(): boolean {
    return !this.#closed && this.#failure === undefined;
  }

  /** Scores a body in a thread (queued while every thread is busy). */
  score(body: Buffer, contentType: string | undefined): Promise<ThreadAnswer> {
    // A Buffer from a shared pool (small bodies) is copied, so the pool is never moved.
    const own =
      body.byteOffset === 0 && body.byteLength === body.buffer.byteLength
        ? body
        : new Uint8Array(body);
    return new Promise<ThreadAnswer>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, body: own, contentType, resolve, reject });
      this.#dispatch();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#settleReady();
    const closed = new ServingError('The server is shutting down', 'TEMPORARILY_UNAVAILABLE', 503);
    for (const job of this.#queue.splice(0)) job.reject(closed);
    await Promise.all([...this.#threads].map((t) => t.worker.terminate()));
    this.#threads.clear();
  }

  #dispatch(): void {
    if (this.#failure !== undefined) {
      const error = new ServingError(this.#failure, 'INTERNAL_ERROR', 500);
      for (const job of this.#queue.splice(0)) job.reject(error);
      return;
    }
    for (const thread of this.#threads) {
      if (this.#queue.length === 0) return;
      if (!thread.loaded || thread.job) continue;
      const job = this.#queue.shift()!;
      thread.job = job;
      thread.worker.postMessage({ id: job.id, body: job.body, contentType: job.contentType }, [
        job.body.buffer as ArrayBuffer,
      ]);
    }
  }

  #spawn(): void {
    const worker = new Worker(threadBootstrapSource(import.meta.url, 'scoring-thread-entry'), {
      eval: true,
      workerData: this.data,
    });
    const thread: ScoringThread = { worker, loaded: false, job: undefined };
    this.#threads.add(thread);
    worker.on('message', (message: ScoringThreadMessage) => {
      if (message.kind === 'ready') {
        thread.loaded = true;
        this.#loadFailures = 0;
        this.#settleReady();
        this.#dispatch();
      } else if (message.kind === 'failed') {
        this.#loadFailed(thread, message.message);
      } else {
        const job = thread.job;
        thread.job = undefined;
        if (job && job.id === message.id) {
          const json = Buffer.from(
            message.json.buffer,
            message.json.byteOffset,
            message.json.byteLength,
          );
          job.resolve({
            status: message.status,
            json,
            warnings: message.warnings,
            ...(message.log ? { log: message.log } : {}),
          });
        }
        this.#dispatch();
      }
    });
    worker.on('error', (error) => this.#died(thread, `failed: ${error.message}`));
    worker.on('exit', (code) => this.#died(thread, `exited with code ${code}`));
    worker.unref();
  }

  #loadFailed(thread: ScoringThread, message: string): void {
    if (!this.#threads.delete(thread)) return;
    void thread.worker.terminate();
    this.#loadFailures++;
    this.onLog('error', `a scoring thread could not load the model: ${message}`);
    if (this.#closed) return;
    if (this.#loadFailures >= MAX_LOAD_FAILURES && ![...this.#threads].some((t) => t.loaded)) {
      this.#failure = `No scoring thread could load the model (${message}); large requests are scored on the event loop`;
      this.onLog('error', this.#failure);
      this.#settleReady();
      this.#dispatch();
      return;
    }
    this.#spawn();
  }

  #died(thread: ScoringThread, how: string): void {
    if (!thread.loaded) return this.#loadFailed(thread, `the thread ${how}`);
    if (!this.#threads.delete(thread)) return;
    const job = thread.job;
    thread.job = undefined;
    if (this.#closed) return;
    this.onLog('error', `a scoring thread ${how}; starting another`);
    job?.reject(
      new ServingError(
        `Internal error: the scoring thread processing this request ${how}`,
        'INTERNAL_ERROR',
        500,
      ),
    );
    this.#spawn();
  }
}
