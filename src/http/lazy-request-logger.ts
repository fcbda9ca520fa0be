/**
 * Fastify gives every request a child logger carrying its `reqId`. Creating one costs a
 * pino child (bindings serialised, redaction set up) on every request, though most
 * requests never log through it: the access line has its own logger (app.ts). This
 * factory hands out a stand-in that creates the real child on its first log call, so a
 * request pays for a child logger only when it logs something (refusals, failures).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

function call(log: FastifyBaseLogger, level: Level, args: unknown[]): void {
  (log[level] as (...a: unknown[]) => void).apply(log, args);
}

class LazyRequestLogger {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get log(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings, this.options));
  }

  get level(): string {
    return this.real?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.log.level = level;
  }

  // Prototype methods: nothing is allocated per request beyond the stand-in itself.
  fatal(...args: unknown[]): void {
    call(this.log, 'fatal', args);
  }
  error(...args: unknown[]): void {
    call(this.log, 'error', args);
  }
  warn(...args: unknown[]): void {
    call(this.log, 'warn', args);
  }
  info(...args: unknown[]): void {
    call(this.log, 'info', args);
  }
  debug(...args: unknown[]): void {
    call(this.log, 'debug', args);
  }
  trace(...args: unknown[]): void {
    call(this.log, 'trace', args);
  }
  silent(...args: unknown[]): void {
    call(this.log, 'silent', args);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.log.child(bindings, options);
  }
}

export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
