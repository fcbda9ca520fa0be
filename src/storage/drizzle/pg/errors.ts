/** node-postgres' failures, as the types the rest of Gatehouse knows. */
import { StorageUnavailableError } from '../../../errors/unavailable.js';
import { isNetworkFailure, someCause } from '../../network-errors.js';
import { UniqueViolation } from '../exec.js';

// SQLSTATE classes 08 (connection exception), 53 (insufficient resources), 57P0x (shutdown),
// and 57014 (query_canceled: statement_timeout, as while a migration holds a table's lock,
// or an operator's pg_cancel_backend), each a moment when the database cannot answer.
const UNAVAILABLE_SQLSTATE = /^(08\d{3}|53\d{3}|57P0[1-3]|57014)$/;
// pg and pg-pool raise these without a code.
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  "Stream isn't writeable",
  'Cannot use a pool after calling end',
  'Client has encountered a connection error',
];

export function translatePgError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof UniqueViolation || error instanceof StorageUnavailableError) return error;
  let unique: (Error & { constraint?: unknown }) | undefined;
  someCause(error, (e) => (e.code === '23505' ? ((unique = e), true) : false));
  if (unique) return new UniqueViolation(typeof unique.constraint === 'string' ? unique.constraint : unique.message, { cause: error });
  const away = someCause(
    error,
    (e) =>
      isNetworkFailure(e) ||
      (typeof e.code === 'string' && UNAVAILABLE_SQLSTATE.test(e.code)) ||
      UNAVAILABLE_MESSAGES.some((m) => e.message.includes(m)),
  );
  return away ? new StorageUnavailableError('database', { cause: error }) : error;
}
