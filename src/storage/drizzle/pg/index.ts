/** The PostgreSQL implementation of every store, over one pooled connection. */
import type { Stores } from '../../../services/ports.js';
import { PgAuditStore } from './audit.js';
import { PgClientStore } from './clients.js';
import { PgEmailTokenStore } from './email-tokens.js';
import { PgImportStore } from './legacy-import.js';
import { openPg } from './connection.js';
import { migratePg } from './migrate.js';
import { PgRevokedTokenStore } from './revoked-tokens.js';
import { PgSessionStore } from './sessions.js';
import { PgSigningKeyStore } from './signing-keys.js';
import { PgUserStore } from './users.js';

export async function createPgStores(url: string, poolSize: number, options: { migrate?: boolean } = {}): Promise<Stores> {
  const conn = openPg(url, poolSize);
  try {
    if (options.migrate ?? true) await migratePg(conn);
  } catch (error) {
    await conn.pool.end();
    throw error;
  }
  let closed = false;
  return {
    users: new PgUserStore(conn.db),
    sessions: new PgSessionStore(conn),
    revokedTokens: new PgRevokedTokenStore(conn.db),
    signingKeys: new PgSigningKeyStore(conn.db),
    clients: new PgClientStore(conn.db),
    emailTokens: new PgEmailTokenStore(conn.db),
    audit: new PgAuditStore(conn.db),
    imports: new PgImportStore(conn.db),
    async ping() {
      await conn.pool.query('SELECT 1');
    },
    async close() {
      if (closed) return;
      closed = true;
      await conn.pool.end();
    },
  };
}
