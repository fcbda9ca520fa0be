/** Picks the store implementation for the configured database. */
import type { DatabaseConfig } from '../config/index.js';
import type { Stores } from '../services/ports.js';
import { createPgStores } from './drizzle/pg/index.js';
import { createSqliteStores } from './drizzle/sqlite/index.js';

/** Opens the database and applies pending migrations (under a lock) before returning. */
export async function openStores(database: DatabaseConfig): Promise<Stores> {
  if (database.kind === 'sqlite') return createSqliteStores(database.path);
  return createPgStores(database.url, database.poolSize);
}
