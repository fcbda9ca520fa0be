/**
 * Applies the committed drizzle-kit migrations (migrations/pg) under a PostgreSQL advisory
 * lock, so instances starting together migrate one at a time and the later ones find
 * nothing to do.
 *
 * It runs on a client of its own, outside the pool, without the pool's 10 s limit on a
 * query: a migration that moves data runs as long as the data asks (0009 took 45 s on a
 * million sessions), and an instance waiting for the lock waits as long as the one that
 * holds it migrates. With the pool's limit both failed, and the server could not start after
 * an upgrade (test/storage/upgrade.test.ts). Keep-alive still notices a server that is gone.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { PgConnection } from './connection.js';

export const PG_MIGRATIONS = fileURLToPath(new URL('../../../../migrations/pg', import.meta.url));
export const MIGRATION_LOCK_KEY = 7_240_131_001; // any constant shared by every Gatehouse instance

export async function migratePg(conn: PgConnection, folder = PG_MIGRATIONS): Promise<void> {
  const client = new pg.Client({ ...conn.clientConfig, keepAlive: true });
  // An idle client losing its server must not crash the process; the pending query fails.
  client.on('error', () => undefined);
  await client.connect();
  try {
    // Overrides a statement_timeout the role or database may set, for this session only.
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      if (conn.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${conn.schema}"`);
      await migrate(drizzle(client), { migrationsFolder: folder, migrationsSchema: conn.schema ?? 'drizzle' });
    } finally {
      // Ending the session releases the lock too; a failed unlock must not hide why it failed.
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
}
