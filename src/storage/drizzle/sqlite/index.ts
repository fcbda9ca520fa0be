/** The SQLite implementation of every store, over one better-sqlite3 connection. */
import type { Stores } from '../../../services/ports.js';
import { SqliteAuditStore } from './audit.js';
import { SqliteClientStore } from './clients.js';
import { SqliteEmailTokenStore } from './email-tokens.js';
import { SqliteImportStore } from './legacy-import.js';
import { openSqlite } from './connection.js';
import { migrateSqlite } from './migrate.js';
import { SqliteRevokedTokenStore } from './revoked-tokens.js';
import { SqliteSessionStore } from './sessions.js';
import { SqliteSigningKeyStore } from './signing-keys.js';
import { SqliteUserStore } from './users.js';

export { migrateSqlite } from './migrate.js';

export function createSqliteStores(file: string, options: { migrate?: boolean } = {}): Stores {
  const conn = openSqlite(file);
  if (options.migrate ?? true) migrateSqlite(conn.raw);
  const ping = conn.raw.prepare('SELECT 1');
  return {
    users: new SqliteUserStore(conn.db),
    sessions: new SqliteSessionStore(conn),
    revokedTokens: new SqliteRevokedTokenStore(conn.db),
    signingKeys: new SqliteSigningKeyStore(conn),
    clients: new SqliteClientStore(conn.db),
    emailTokens: new SqliteEmailTokenStore(conn.db),
    audit: new SqliteAuditStore(conn.db),
    imports: new SqliteImportStore(conn),
    async ping() {
      ping.get();
    },
    async close() {
      if (conn.raw.open) conn.raw.close();
    },
  };
}
