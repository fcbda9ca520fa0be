/** The SQLite implementation of every store, over one better-sqlite3 connection. */
import type { Stores } from '../../../services/ports.js';
import { SqliteAuditStore } from './audit.js';
import { SqliteClientStore } from './clients.js';
import { SqliteEmailTokenStore } from './email-tokens.js';
import { SqliteImportStore } from './legacy-import.js';
import { openSqlite, type SqliteOptions } from './connection.js';
import { migrateSqlite } from './migrate.js';
import { SqliteRevokedTokenStore } from './revoked-tokens.js';
import { SqliteSessionStore } from './sessions.js';
import { SqliteSigningKeyStore } from './signing-keys.js';
import { SqliteUserStore } from './users.js';

export { migrateSqlite } from './migrate.js';

export function createSqliteStores(file: string, options: { migrate?: boolean } & SqliteOptions = {}): Stores {
  const conn = openSqlite(file, options);
  if (options.migrate ?? true) {
    try {
      migrateSqlite(conn.raw);
    } catch (error) {
      void conn.close();
      throw error;
    }
  }
  const ping = conn.raw.prepare('SELECT 1');
  return {
    users: new SqliteUserStore(conn),
    sessions: new SqliteSessionStore(conn),
    revokedTokens: new SqliteRevokedTokenStore(conn),
    signingKeys: new SqliteSigningKeyStore(conn),
    clients: new SqliteClientStore(conn),
    emailTokens: new SqliteEmailTokenStore(conn),
    audit: new SqliteAuditStore(conn),
    imports: new SqliteImportStore(conn),
    async ping() {
      // A failed WAL fsync means no write can be acknowledged any more: not ready.
      if (conn.failure) throw conn.failure;
      ping.get();
    },
    close: () => conn.close(),
  };
}
