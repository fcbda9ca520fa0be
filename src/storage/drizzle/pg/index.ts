/** The stores over one PostgreSQL pool. */
import type { Stores } from '../../../services/ports.js';
import { createStores } from '../stores/index.js';
import { openPg } from './connection.js';
import { translatePgError } from './errors.js';
import { PgExec } from './exec.js';
import { migratePg } from './migrate.js';
import { PgSessionHotPaths } from './sessions.js';

export async function createPgStores(url: string, poolSize: number, options: { migrate?: boolean } = {}): Promise<Stores> {
  const conn = openPg(url, poolSize);
  try {
    if (options.migrate ?? true) await migratePg(conn);
  } catch (error) {
    await conn.pool.end();
    throw translatePgError(error);
  }
  let closed = false;
  return createStores(new PgExec(conn.db), new PgSessionHotPaths(conn), {
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
  });
}
