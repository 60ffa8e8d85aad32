/**
 * A request's logger made when it is first used: fastify gives every request a child logger
 * bound to its request id (`reqId`), and pino builds one per call of `child()` (bindings serialised,
 * a new object chained to the parent). The scoring server logs a request only when it warns or
 * fails (or at debug), so most requests would build a child for nothing. {@link lazyChildLogger}
 * (fastify's `childLoggerFactory`) returns a stand-in that builds the real child on the first line
 * it writes; a line at a level the logger does not write builds nothing.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { FastifyChildLoggerFactory } from 'fastify/types/logger.js';

type Bindings = Record<string, unknown>;
type ChildOptions = Record<string, unknown>;
type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
type Logger = FastifyBaseLogger & { isLevelEnabled?(level: string): boolean };

/** Stands for `parent.child(bindings, options)` until a line is written. */
class LazyChildLogger {
  #real: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly bindingsGiven: Bindings,
    private readonly options: ChildOptions,
  ) {}

  /** The real child logger (built on first use). */
  get real(): Logger {
    return (this.#real ??= this.parent.child(this.bindingsGiven, this.options) as Logger);
  }

  /** Whether a line at `level` would be written, without building the child when it would not. */
  #writes(level: LogMethod): boolean {
    if (this.#real || this.options.level !== undefined) return true;
    const parent = this.parent;
    return typeof parent.isLevelEnabled === 'function' ? parent.isLevelEnabled(level) : true;
  }

  get level(): string {
    return this.#real?.level ?? (this.options.level as string | undefined) ?? this.parent.level;
  }
  set level(level: string) {
    this.real.level = level;
  }

  fatal(...args: unknown[]): void {
    if (this.#writes('fatal')) (this.real.fatal as (...a: unknown[]) => void)(...args);
  }
  error(...args: unknown[]): void {
    if (this.#writes('error')) (this.real.error as (...a: unknown[]) => void)(...args);
  }
  warn(...args: unknown[]): void {
    if (this.#writes('warn')) (this.real.warn as (...a: unknown[]) => void)(...args);
  }
  info(...args: unknown[]): void {
    if (this.#writes('info')) (this.real.info as (...a: unknown[]) => void)(...args);
  }
  debug(...args: unknown[]): void {
    if (this.#writes('debug')) (this.real.debug as (...a: unknown[]) => void)(...args);
  }
  trace(...args: unknown[]): void {
    if (this.#writes('trace')) (this.real.trace as (...a: unknown[]) => void)(...args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.real.child(bindings, options);
  }

  isLevelEnabled(level: string): boolean {
    const real = this.#real ?? (this.options.level === undefined ? this.parent : this.real);
    return typeof real.isLevelEnabled === 'function' ? real.isLevelEnabled(level) : true;
  }

  bindings(): Bindings {
    const real = this.real as Logger & { bindings?(): Bindings };
    return typeof real.bindings === 'function' ? real.bindings() : this.bindingsGiven;
  }
}

/** fastify's `childLoggerFactory`: a request logger built when a line is first written to it (see the module doc). */
export const lazyChildLogger: FastifyChildLoggerFactory = (logger, bindings, options) =>
  new LazyChildLogger(
    logger as Logger,
    bindings,
    options as ChildOptions,
  ) as unknown as FastifyBaseLogger;
