/** Opens the embedded SQLite database with the settings every store relies on. */
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import * as schema from '../schema/sqlite.js';

export type SqliteDb = BetterSQLite3Database<typeof schema>;

export interface SqliteConnection {
  raw: Database.Database;
  db: SqliteDb;
}

export function openSqlite(file: string): SqliteConnection {
  mkdirSync(path.dirname(file), { recursive: true });
  const raw = new Database(file);
  // WAL: readers never block the writer. FULL: an acknowledged write survives power loss,
  // not only a crash of this process. busy_timeout: several processes queue on the lock.
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.pragma('busy_timeout = 5000');
  raw.pragma('foreign_keys = ON');
  return { raw, db: drizzle(raw, { schema }) };
}

/** SQLite reports unique violations as SQLITE_CONSTRAINT_UNIQUE: "... failed: users.email_key". */
export function uniqueViolation(error: unknown): string | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return e.message;
  }
  return undefined;
}
