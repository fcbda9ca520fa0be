/**
 * Reads the original FastAPI service's Prisma SQLite database (read-only): its `User` and
 * `BlacklistedToken` tables. Anything else fails with a clear message before a row moves.
 *
 * Rows are read in batches (keyset pages on `id`, one prepared statement each), never all
 * at once: memory stays flat whatever the source's size. `openLegacyDatabase` checks every
 * row's types first (in SQL for users, batch by batch for the tokens' dates), so a bad row
 * is refused before the import starts, as when everything was read up front.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import path from 'node:path';

export class LegacyDatabaseError extends Error {
  override name = 'LegacyDatabaseError';
}

export interface LegacyUserRow {
  id: number;
  username: string;
  email: string;
  password: string;
}

export interface LegacyBlacklistRow {
  token: string;
  expiresAt: Date;
}

const REQUIRED: Record<string, string[]> = {
  User: ['id', 'username', 'email', 'password'],
  BlacklistedToken: ['id', 'token', 'expiresAt'],
};

/** Rows per batch: a few hundred KB at most. */
export const LEGACY_BATCH = 1000;

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

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** An open original database, read batch by batch. Close it when done. */
export class LegacyDatabase {
  /** How many users the source has. */
  readonly userCount: number;
  private readonly userPage: Database.Statement<[number, number], LegacyUserRow>;
  private readonly tokenPage: Database.Statement<[number, number], { id: number; token: string; expiresAt: unknown }>;

  private constructor(
    private readonly file: string,
    private readonly db: Database.Database,
  ) {
    this.userPage = db.prepare('SELECT id, username, email, password FROM "User" WHERE id > ? ORDER BY id LIMIT ?');
    this.tokenPage = db.prepare('SELECT id, token, expiresAt FROM "BlacklistedToken" WHERE id > ? ORDER BY id LIMIT ?');
    this.userCount = (db.prepare('SELECT count(*) AS n FROM "User"').get() as { n: number }).n;
  }

  static open(file: string): LegacyDatabase {
    if (!existsSync(file)) throw new LegacyDatabaseError(`${file}: no such file`);
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true });
    } catch (error) {
      throw new LegacyDatabaseError(`${file}: cannot open (${message(error)})`);
    }
    try {
      for (const [table, columns] of Object.entries(REQUIRED)) {
        let present: string[];
        try {
          present = (db.prepare(`PRAGMA table_info("${table}")`).all() as Array<{ name: string }>).map((c) => c.name);
        } catch (error) {
          // "file is not a database", "database disk image is malformed"...
          throw new LegacyDatabaseError(`${file}: not a readable SQLite database (${message(error)})`);
        }
        const missing = columns.filter((c) => !present.includes(c));
        if (present.length === 0) throw new LegacyDatabaseError(`${file}: no "${table}" table: not a database of the original service`);
        if (missing.length > 0) throw new LegacyDatabaseError(`${file}: table "${table}" lacks ${missing.join(', ')}`);
      }
      const source = new LegacyDatabase(file, db);
      source.check();
      return source;
    } catch (error) {
      db.close();
      if (error instanceof LegacyDatabaseError) throw error;
      throw new LegacyDatabaseError(`${file}: not a readable SQLite database (${message(error)})`);
    }
  }

  /** Every row's types, before anything is written (a scan, nothing kept). */
  private check(): void {
    const bad = this.db
      .prepare(
        `SELECT id FROM "User" WHERE typeof(id) <> 'integer' OR typeof(username) <> 'text' OR typeof(email) <> 'text' OR typeof(password) <> 'text' LIMIT 1`,
      )
      .get() as { id: unknown } | undefined;
    if (bad) throw new LegacyDatabaseError(`${this.file}: User row ${String(bad.id)} has unexpected column types`);
    for (const batch of this.blacklistBatches()) void batch;
  }

  /** Runs a read, its failure (a corrupt page found late) as a LegacyDatabaseError. */
  private read<T>(body: () => T): T {
    try {
      return body();
    } catch (error) {
      if (error instanceof LegacyDatabaseError) throw error;
      throw new LegacyDatabaseError(`${this.file}: not a readable SQLite database (${message(error)})`);
    }
  }

  /** Every user, in id order, `size` at a time. */
  *userBatches(size = LEGACY_BATCH): Generator<LegacyUserRow[]> {
    let after = Number.MIN_SAFE_INTEGER;
    for (;;) {
      const rows = this.read(() => this.userPage.all(after, size));
      if (rows.length === 0) return;
      for (const u of rows) {
        if (!Number.isInteger(u.id) || typeof u.username !== 'string' || typeof u.email !== 'string' || typeof u.password !== 'string') {
          throw new LegacyDatabaseError(`${this.file}: User row ${String(u.id)} has unexpected column types`);
        }
      }
      yield rows;
      after = rows[rows.length - 1]!.id;
    }
  }

  /** The users with these ids, in id order. */
  usersById(ids: readonly number[]): LegacyUserRow[] {
    if (ids.length === 0) return [];
    return this.read(
      () =>
        this.db.prepare(`SELECT id, username, email, password FROM "User" WHERE id IN (${ids.map(() => '?').join(',')}) ORDER BY id`).all(...ids) as LegacyUserRow[],
    );
  }

  /** Every blacklisted token, `size` at a time. */
  *blacklistBatches(size = LEGACY_BATCH): Generator<LegacyBlacklistRow[]> {
    let after = Number.MIN_SAFE_INTEGER;
    for (;;) {
      const rows = this.read(() => this.tokenPage.all(after, size));
      if (rows.length === 0) return;
      const batch: LegacyBlacklistRow[] = [];
      for (const row of rows) {
        const expiresAt = toDate(row.expiresAt);
        if (!expiresAt) throw new LegacyDatabaseError(`${this.file}: BlacklistedToken.expiresAt "${String(row.expiresAt)}" is not a date`);
        batch.push({ token: row.token, expiresAt });
      }
      yield batch;
      after = rows[rows.length - 1]!.id;
    }
  }

  close(): void {
    this.db.close();
  }
}

/** Opens the original database, checked (see LegacyDatabase). */
export function openLegacyDatabase(file: string): LegacyDatabase {
  return LegacyDatabase.open(file);
}
