/**
 * Applies the committed drizzle-kit migrations (migrations/sqlite).
 *
 * Drizzle's own SQLite migrator reads the applied list *before* a deferred BEGIN, so two
 * processes starting at once both try to create the tables. Here the whole check-and-apply
 * runs under BEGIN IMMEDIATE: the second process waits on SQLite's write lock
 * (busy_timeout), then finds nothing left to do. Same bookkeeping table as drizzle-kit.
 *
 * Two settings hold while it runs and are restored afterwards:
 * - synchronous=FULL: the connection otherwise runs with NORMAL and leaves the fsync to the
 *   stores' asynchronous barrier (see connection.ts), and a migration is a rare start-up
 *   write that may as well be durable when this returns;
 * - a busy timeout of 10 minutes instead of the connection's 5 s: a process that starts while
 *   another migrates waits for it, however long the data takes to move (0009 took 57 s on a
 *   million sessions), instead of failing with "database is locked".
 * A larger page cache would have made 0009 faster (34 s with 256 MiB), but the server kept
 * the memory after shrinking the cache back (RSS 372 MB against 117), so it is not used.
 */
import type Database from 'better-sqlite3';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { fileURLToPath } from 'node:url';

export const SQLITE_MIGRATIONS = fileURLToPath(new URL('../../../../migrations/sqlite', import.meta.url));

/** The settings a migration runs with (see the comment at the top); each is a number. */
const DURING_MIGRATION = [
  ['synchronous', 2], // FULL
  ['busy_timeout', 10 * 60_000],
] as const;

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
  const previous = DURING_MIGRATION.map(([name]) => [name, Number(db.pragma(name, { simple: true }))] as const);
  for (const [name, value] of DURING_MIGRATION) db.pragma(`${name} = ${value}`);
  try {
    return { applied: apply.immediate() };
  } finally {
    for (const [name, value] of previous) db.pragma(`${name} = ${value}`);
  }
}

