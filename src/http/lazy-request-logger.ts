/**
 * Fastify gives every request a child logger carrying its `reqId`. Creating one costs a
 * pino child (bindings serialised, redaction set up) on every request, though most
 * requests never log through it: the access line has its own logger (app.ts). This
 * factory hands out a stand-in that creates the real child on its first log call, so a
 * request pays for a child logger only when it logs something (refusals, failures).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

class LazyRequestLogger {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  /** The real child logger, made on first use. */
  resolve(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings, this.options));
  }

  get level(): string {
    return this.real?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.resolve().level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.resolve().child(bindings, options);
  }
}

// One forwarding method per level, on the prototype: nothing allocated per request but
// the stand-in itself.
for (const level of LEVELS) {
  Object.defineProperty(LazyRequestLogger.prototype, level, {
    value(this: LazyRequestLogger, ...args: unknown[]) {
      const log = this.resolve();
      (log[level] as (...a: unknown[]) => void).apply(log, args);
    },
  });
}

export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
