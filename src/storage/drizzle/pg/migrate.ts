/**
 * Applies the committed drizzle-kit migrations (migrations/pg) under a PostgreSQL advisory
 * lock, so instances starting together migrate one at a time and the later ones find
 * nothing to do. The migration runs on the client that holds the lock: with the pool's
 * other clients busy (or DATABASE_POOL_SIZE=1) a second checkout would wait forever.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { fileURLToPath } from 'node:url';
import type { PgConnection } from './connection.js';

export const PG_MIGRATIONS = fileURLToPath(new URL('../../../../migrations/pg', import.meta.url));
const LOCK_KEY = 7_240_131_001; // any constant shared by every Gatehouse instance

export async function migratePg(conn: PgConnection, folder = PG_MIGRATIONS): Promise<void> {
  const client = await conn.pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      if (conn.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${conn.schema}"`);
      await migrate(drizzle(client), { migrationsFolder: folder, migrationsSchema: conn.schema ?? 'drizzle' });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
