/** The stores over one PostgreSQL pool. */
import type { Stores } from '../../../services/ports.js';
import { createStores } from '../stores/index.js';
import { DEFAULT_SESSION_RECORD_LIFETIME_MS } from '../stores/revocations.js';
import { openPg } from './connection.js';
import { translatePgError } from './errors.js';
import { PgExec } from './exec.js';
import { migratePg } from './migrate.js';
import { PgSessionHotPaths } from './sessions.js';

export async function createPgStores(url: string, poolSize: number, options: { migrate?: boolean; sessionRecordLifetimeMs?: number } = {}): Promise<Stores> {
  const recordLifetimeMs = options.sessionRecordLifetimeMs ?? DEFAULT_SESSION_RECORD_LIFETIME_MS;
  const conn = openPg(url, poolSize);
  try {
    if (options.migrate ?? true) await migratePg(conn);
  } catch (error) {
    await conn.pool.end();
    throw translatePgError(error);
  }
  let closed = false;
  return createStores(new PgExec(conn.db), new PgSessionHotPaths(conn, recordLifetimeMs), {
    async ping() {
      try {
        await conn.pool.query('SELECT 1');
      } catch (error) {
        throw translatePgError(error);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await conn.pool.end();
    },
  }, recordLifetimeMs);
}
