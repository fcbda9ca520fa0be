/**
 * Applies the committed drizzle-kit migrations (migrations/sqlite).
 *
 * Drizzle's own SQLite migrator reads the applied list *before* a deferred BEGIN, so two
 * processes starting at once both try to create the tables. Here the whole check-and-apply
 * runs under BEGIN IMMEDIATE: the second process waits on SQLite's write lock
 * (busy_timeout), then finds nothing left to do. Same bookkeeping table as drizzle-kit.
 *
 * It runs with synchronous=FULL (restored afterwards): the connection otherwise runs with
 * NORMAL and leaves the fsync to the stores' asynchronous barrier (see connection.ts), and
 * a migration is a rare start-up write that may as well be durable when this returns.
 */
import type Database from 'better-sqlite3';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { fileURLToPath } from 'node:url';

export const SQLITE_MIGRATIONS = fileURLToPath(new URL('../../../../migrations/sqlite', import.meta.url));

export function migrateSqlite(db: Database.Database, folder = SQLITE_MIGRATIONS): { applied: number } {
  const migrations = readMigrationFiles({ migrationsFolder: folder });
  const apply = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`);
    const last = db
      .prepare(`SELECT created_at FROM "__drizzle_migrations" ORDER BY created_at DESC LIMIT 1`)
      .get() as { created_at: number } | undefined;
    let applied = 0;
    for (const migration of migrations) {
      if (last && Number(last.created_at) >= migration.folderMillis) continue;
      for (const statement of migration.sql) {
        if (statement.trim() !== '') db.exec(statement);
      }
      db.prepare(`INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)`).run(
        migration.hash,
        migration.folderMillis,
      );
      applied++;
    }
    return applied;
  });
  const previous = db.pragma('synchronous', { simple: true }) as number;
  db.pragma('synchronous = FULL');
  try {
    return { applied: apply.immediate() };
  } finally {
    db.pragma(`synchronous = ${Number(previous)}`);
  }
}
