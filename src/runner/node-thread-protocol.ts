/** Messages between node-thread.ts (the main thread) and node-thread-entry.ts (a node thread). */
import type { PathSegment, SerializedThrown } from './node-thread-values.js';

/** Main thread → node thread: load the project, or call a node's function with these arguments. */
export type ThreadRequest =
  | { readonly id: number; readonly kind: 'load' }
  | {
      readonly id: number;
      readonly kind: 'call';
      readonly pipeline: string;
      readonly node: string;
      readonly args: readonly unknown[];
      /** The caller's environment variables, when they changed since the thread's last call. */
      readonly env?: Readonly<Record<string, string>>;
    };

/** Node thread → main thread: one reply per request. */
export type ThreadReply =
  | { readonly id: number; readonly kind: 'loaded' }
  | { readonly id: number; readonly kind: 'result'; readonly result: unknown }
  | { readonly id: number; readonly kind: 'thrown'; readonly thrown: SerializedThrown }
  | {
      readonly id: number;
      readonly kind: 'uncloneable';
      readonly path: readonly PathSegment[];
      readonly found: string;
    }
  /** The project did not load in the thread, or has no such pipeline or node. */
  | { readonly id: number; readonly kind: 'lookup'; readonly reason: string };
