/**
 * The code of a scoring thread (started by scoring-threads.ts): loads its own copy of the model
 * once, then scores one request at a time — the same `RequestScorer` as the event loop, run to
 * completion — and posts the answer back as UTF-8 bytes (moved, not copied).
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { SignatureValidationError } from '../model/signature.js';
import { toServingError } from './errors.js';
import { RequestScorer, type RunWork } from './scoring.js';
import type {
  ScoringJob,
  ScoringThreadData,
  ScoringThreadMessage,
  ThreadLogEntry,
} from './scoring-thread-protocol.js';
import { runSync } from './slicing.js';
import type { ScoringModel } from './types.js';

const port = parentPort!;
const data = workerData as ScoringThreadData;
const run: RunWork = (work) => runSync(work);

async function loadModel(): Promise<ScoringModel> {
  const { module, exportName = 'default', args = [] } = data.source;
  const url = isAbsolute(module) ? pathToFileURL(module).href : module;
  const loaded = (await import(url)) as Record<string, unknown>;
  const load = loaded[exportName];
  if (typeof load !== 'function')
    throw new TypeError(`${module} has no function export '${exportName}' to load the model with`);
  return (await (load as (...a: unknown[]) => unknown)(...args)) as ScoringModel;
}

function post(message: ScoringThreadMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function bytes(text: string): Uint8Array {
  const buffer = Buffer.from(text, 'utf8');
  // A small Buffer is a view of a shared pool: copy it rather than move the pool.
  return buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength
    ? buffer
    : new Uint8Array(buffer);
}

/**
 * On Linux, lowers this thread's scheduling priority (nice +10, this thread only): when the cores
 * are busy, the event loop (health checks, small requests) is scheduled before large requests.
 */
function yieldToEventLoop(): void {
  if (process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, THREAD_NICE);
  } catch {
    // Best effort: without it the thread runs at the process's priority.
  }
}

const THREAD_NICE = 10;

async function main(): Promise<void> {
  yieldToEventLoop();
  let scorer: RequestScorer;
  try {
    scorer = new RequestScorer(await loadModel(), data);
  } catch (error) {
    post({ kind: 'failed', message: (error as Error)?.message ?? String(error) });
    return;
  }
  port.on('message', (job: ScoringJob) => {
    void (async () => {
      const text = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength).toString(
        'utf8',
      );
      let status = 200;
      let json: string;
      let warnings: string[] = [];
      let log: ThreadLogEntry | undefined;
      try {
        ({ json, warnings } = await scorer.score(text, job.contentType, run));
      } catch (error) {
        const se = toServingError(error, data.bodyLimitBytes);
        status = se.status;
        json = JSON.stringify(se.toJSON());
        if (se.status >= 500)
          log = { level: 'error', message: 'internal error', error: describe(error) };
        else if (se.cause && !(se.cause instanceof SignatureValidationError))
          log = { level: 'warn', message: se.message, error: describe(se.cause) };
      }
      const answer = bytes(json);
      post({ kind: 'reply', id: job.id, status, json: answer, warnings, ...(log ? { log } : {}) }, [
        answer.buffer as ArrayBuffer,
      ]);
    })();
  });
  post({ kind: 'ready' });
}

function describe(error: unknown): string {
  return error instanceof Error
    ? (error.stack ?? `${error.name}: ${error.message}`)
    : String(error);
}

await main();
