/** better-sqlite3's failures, as the types the rest of Gatehouse knows. */
import { StorageUnavailableError } from '../../../errors/unavailable.js';
import { UniqueViolation } from '../exec.js';

/** Busy or locked after busy_timeout (another process holds the write lock), or closed. */
const UNAVAILABLE_CODES = /^(SQLITE_BUSY|SQLITE_LOCKED)/;
const CLOSED = 'The database connection is not open';

export function translateSqliteError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    // "UNIQUE constraint failed: users.email_key": the column names the constraint.
    return new UniqueViolation(error.message, { cause: error });
  }
  if ((typeof code === 'string' && UNAVAILABLE_CODES.test(code)) || error.message.includes(CLOSED)) {
    return new StorageUnavailableError('database', { cause: error });
  }
  return error;
}
