/**
 * Reads the original FastAPI service's Prisma SQLite database (read-only): its `User` and
 * `BlacklistedToken` tables. Anything else fails with a clear message before a row moves.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import path from 'node:path';

export class LegacyDatabaseError extends Error {
  override name = 'LegacyDatabaseError';
}

export interface LegacyData {
  users: Array<{ id: number; username: string; email: string; password: string }>;
  blacklist: Array<{ token: string; expiresAt: Date }>;
}

const REQUIRED: Record<string, string[]> = {
  User: ['id', 'username', 'email', 'password'],
  BlacklistedToken: ['id', 'token', 'expiresAt'],
};

/** `file:./BOT.sqlite` (Prisma's form, relative to cwd) or a plain path. */
export function legacyPath(from: string, cwd = process.cwd()): string {
  return path.resolve(cwd, from.replace(/^file:(\/\/)?/i, '').split('?')[0] ?? '');
}

/** Prisma's SQLite DateTime: epoch milliseconds (a number or numeric text) or ISO text. */
function toDate(value: unknown): Date | undefined {
  if (typeof value === 'number' || typeof value === 'bigint') return new Date(Number(value));
  if (typeof value === 'string') {
    const d = /^\d+$/.test(value) ? new Date(Number(value)) : new Date(value.replace(' ', 'T'));
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

export function readLegacyDatabase(file: string): LegacyData {
  if (!existsSync(file)) throw new LegacyDatabaseError(`${file}: no such file`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new LegacyDatabaseError(`${file}: cannot open (${error instanceof Error ? error.message : String(error)})`);
  }
  try {
    for (const [table, columns] of Object.entries(REQUIRED)) {
      let present: string[];
      try {
        present = (db.prepare(`PRAGMA table_info("${table}")`).all() as Array<{ name: string }>).map((c) => c.name);
      } catch (error) {
        // "file is not a database", "database disk image is malformed"...
        throw new LegacyDatabaseError(`${file}: not a readable SQLite database (${error instanceof Error ? error.message : String(error)})`);
      }
      const missing = columns.filter((c) => !present.includes(c));
      if (present.length === 0) throw new LegacyDatabaseError(`${file}: no "${table}" table: not a database of the original service`);
      if (missing.length > 0) throw new LegacyDatabaseError(`${file}: table "${table}" lacks ${missing.join(', ')}`);
    }
    const users = db.prepare('SELECT id, username, email, password FROM "User" ORDER BY id').all() as LegacyData['users'];
    const blacklist: LegacyData['blacklist'] = [];
    for (const row of db.prepare('SELECT token, expiresAt FROM "BlacklistedToken"').all() as Array<{ token: string; expiresAt: unknown }>) {
      const expiresAt = toDate(row.expiresAt);
      if (!expiresAt) throw new LegacyDatabaseError(`${file}: BlacklistedToken.expiresAt "${String(row.expiresAt)}" is not a date`);
      blacklist.push({ token: row.token, expiresAt });
    }
    for (const u of users) {
      if (!Number.isInteger(u.id) || typeof u.username !== 'string' || typeof u.email !== 'string' || typeof u.password !== 'string') {
        throw new LegacyDatabaseError(`${file}: User row ${String(u.id)} has unexpected column types`);
      }
    }
    return { users, blacklist };
  } catch (error) {
    if (error instanceof LegacyDatabaseError) throw error;
    throw new LegacyDatabaseError(`${file}: not a readable SQLite database (${error instanceof Error ? error.message : String(error)})`);
  } finally {
    db.close();
  }
}
