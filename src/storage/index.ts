/** Picks the store implementation for the configured database. */
import type { DatabaseConfig } from '../config/index.js';
import type { Stores } from '../services/ports.js';
import { createSqliteStores } from './drizzle/sqlite/index.js';

export function openStores(database: DatabaseConfig): Stores {
  if (database.kind === 'sqlite') return createSqliteStores(database.path);
  throw new Error('DATABASE_URL: the PostgreSQL store is not available in this version');
}
