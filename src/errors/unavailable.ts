/**
 * Is this error a dependency being away (database or Redis down, unreachable, timing out)
 * rather than a bug? Those answer 503 and the instance keeps running; it recovers when the
 * dependency returns.
 */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// PostgreSQL SQLSTATE classes 08 (connection exception), 53 (insufficient resources),
// 57P (operator intervention: shutdown), and SQLite's busy/locked after busy_timeout.
const SQL_CODES = /^(08\d{3}|53\d{3}|57P0[1-3]|SQLITE_BUSY|SQLITE_LOCKED)/;
const MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  "Stream isn't writeable",
  'Connection is closed',
  'Command timed out',
  'Reached the max retries per request limit',
  'The database connection is not open',
  'Cannot use a pool after calling end',
  'Redis connection is not ready',
];

export function isDependencyUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    if (typeof e === 'object') {
      const { code, message, name } = e as { code?: unknown; message?: unknown; name?: unknown };
      if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQL_CODES.test(code))) return true;
      if (name === 'MaxRetriesPerRequestError') return true;
      if (typeof message === 'string' && MESSAGES.some((m) => message.includes(m))) return true;
      if (e instanceof AggregateError && e.errors.some((inner) => isDependencyUnavailable(inner))) return true;
      e = (e as { cause?: unknown }).cause;
    } else {
      break;
    }
  }
  return false;
}
