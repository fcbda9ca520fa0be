/** Picks the store implementation for the configured database. */
import type { DatabaseConfig } from '../config/index.js';
import type { Stores } from '../services/ports.js';

/**
 * Opens the database and applies pending migrations (under a lock) before returning.
 * Only the configured dialect's stores and driver are loaded: pg and drizzle's
 * node-postgres driver are several MB of memory that a SQLite server never uses.
 */
export async function openStores(database: DatabaseConfig, options: { server?: boolean; sessionRecordLifetimeMs?: number } = {}): Promise<Stores> {
  const { sessionRecordLifetimeMs } = options;
  if (database.kind === 'sqlite') {
    const { createSqliteStores } = await import('./drizzle/sqlite/index.js');
    // A long-running server checkpoints the WAL off its event loop; commands do not need to.
    return createSqliteStores(database.path, { backgroundCheckpoints: options.server ?? false, ...(sessionRecordLifetimeMs === undefined ? {} : { sessionRecordLifetimeMs }) });
  }
  const { createPgStores } = await import('./drizzle/pg/index.js');
  return createPgStores(database.url, database.poolSize, sessionRecordLifetimeMs === undefined ? {} : { sessionRecordLifetimeMs });
}
