/** The stores over one better-sqlite3 connection. */
import type { Stores } from '../../../services/ports.js';
import { createStores } from '../stores/index.js';
import { DEFAULT_SESSION_RECORD_LIFETIME_MS } from '../stores/revocations.js';
import { openSqlite, type SqliteOptions } from './connection.js';
import { translateSqliteError } from './errors.js';
import { ConnectionGate, SqliteExec } from './exec.js';
import { migrateSqlite } from './migrate.js';
import { SqliteSessionHotPaths } from './sessions.js';

export { migrateSqlite } from './migrate.js';

export function createSqliteStores(file: string, options: { migrate?: boolean; sessionRecordLifetimeMs?: number } & SqliteOptions = {}): Stores {
  const recordLifetimeMs = options.sessionRecordLifetimeMs ?? DEFAULT_SESSION_RECORD_LIFETIME_MS;
  const conn = openSqlite(file, options);
  if (options.migrate ?? true) {
    try {
      migrateSqlite(conn.raw);
    } catch (error) {
      void conn.close();
      throw error;
    }
  }
  const x = new SqliteExec(conn, new ConnectionGate());
  const ping = conn.raw.prepare('SELECT 1');
  return createStores(x, new SqliteSessionHotPaths(x, recordLifetimeMs), {
    async ping() {
      // A failed WAL fsync means no write can be acknowledged any more: not ready.
      if (conn.failure) throw conn.failure;
      try {
        ping.get();
      } catch (error) {
        throw translateSqliteError(error);
      }
    },
    close: () => conn.close(),
  }, recordLifetimeMs);
}
