/** Socket-level failures (any driver): the other side is away, not a bug here. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Walks an error, its causes and an AggregateError's members; true when `test` holds for one. */
export function someCause(error: unknown, test: (e: Error & { code?: unknown }) => boolean): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (test(e as Error & { code?: unknown })) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => someCause(inner, test))) return true;
    e = e.cause;
  }
  return false;
}

export function isNetworkFailure(e: { code?: unknown }): boolean {
  return typeof e.code === 'string' && NETWORK_CODES.has(e.code);
}
