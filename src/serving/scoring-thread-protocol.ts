/** Messages between the scoring server and its worker threads (scoring-threads.ts). */
import type { ThreadModelSource } from './options.js';

/** What a thread is started with. */
export interface ScoringThreadData {
  source: ThreadModelSource;
  strict: boolean;
  maxRecords: number;
  maxColumns: number;
  bodyLimitBytes: number;
}

/** One request for a thread: the raw body (moved, not copied) and its Content-Type. */
export interface ScoringJob {
  id: number;
  body: Uint8Array;
  contentType: string | undefined;
}

/** A failure worth a log line in the server (the answer itself is in the reply). */
export interface ThreadLogEntry {
  level: 'warn' | 'error';
  message: string;
  error: string;
}

/** A thread's messages: loaded (or not), then one reply per job. */
export type ScoringThreadMessage =
  | { kind: 'ready' }
  | { kind: 'failed'; message: string }
  | {
      kind: 'reply';
      id: number;
      status: number;
      /** The answer's JSON as UTF-8 (moved, not copied). */
      json: Uint8Array;
      warnings: string[];
      log?: ThreadLogEntry;
    };
