/**
 * A dependency being away (database or Redis down, unreachable, timing out, locked past
 * its timeout) rather than a bug: those answer 503 and the instance keeps running; it
 * recovers when the dependency returns.
 *
 * The storage layer decides, where the driver's error happens (storage/drizzle/*\/errors.ts,
 * storage/redis/errors.ts), and throws this type; nothing above storage knows a driver's
 * codes or words.
 */
export class StorageUnavailableError extends Error {
  constructor(
    readonly dependency: 'database' | 'redis',
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`${dependency} unavailable: ${reason}`, options);
    this.name = 'StorageUnavailableError';
  }
}

export function isDependencyUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e instanceof StorageUnavailableError) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => isDependencyUnavailable(inner))) return true;
    e = e.cause;
  }
  return false;
}
