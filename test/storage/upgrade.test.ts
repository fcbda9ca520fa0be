/**
 * Upgrades across a migration that moves data, on a real database of the run's dialect:
 * the database is built with the migrations before it, rows are written as that schema
 * held them, then the stores open it (applying the rest) and must read those rows right.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import pg from 'pg';
import type { RotationRequest } from '../../src/services/ports.js';
import { MIGRATION_LOCK_KEY, PG_MIGRATIONS, migratePg } from '../../src/storage/drizzle/pg/migrate.js';
import { openPg } from '../../src/storage/drizzle/pg/connection.js';
import { SQLITE_MIGRATIONS, migrateSqlite } from '../../src/storage/drizzle/sqlite/migrate.js';
import { DIALECT, databaseUrlFor, tempDir } from '../helpers/app.js';
import { openTestStores } from '../helpers/stores.js';

/** A copy of the dialect's migrations folder holding only the migrations before `tag`. */
function migrationsBefore(dir: string, tag: string): string {
  const source = DIALECT === 'sqlite' ? SQLITE_MIGRATIONS : PG_MIGRATIONS;
  const folder = path.join(dir, 'migrations');
  cpSync(source, folder, { recursive: true });
  const journalFile = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
  const at = journal.entries.findIndex((entry) => entry.tag === tag);
  assert.ok(at > 0, `${tag} is in the journal`);
  journal.entries = journal.entries.slice(0, at);
  writeFileSync(journalFile, JSON.stringify(journal));
  return folder;
}

/** Builds the schema with `folder`'s migrations and runs `statements` on it. */
async function buildOld(dir: string, folder: string, statements: string[]): Promise<void> {
  const url = databaseUrlFor(dir);
  if (DIALECT === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(url.slice('file:'.length));
    try {
      migrateSqlite(db, folder);
      for (const statement of statements) db.exec(statement);
    } finally {
      db.close();
    }
    return;
  }
  const conn = openPg(url, 1);
  try {
    await migratePg(conn, folder);
    for (const statement of statements) await conn.pool.query(statement);
  } finally {
    await conn.pool.end();
  }
}

test('0009_refresh_token_hashes: a session rotated before the upgrade still tells its current, previous (replay) and older (reuse) tokens apart', async (t) => {
  const dir = tempDir(t);
  const folder = migrationsBefore(dir, '0009_refresh_token_hashes');
  const now = Date.now();
  // Times as each dialect stores them: integer milliseconds, or timestamptz.
  const time = (ms: number): string => (DIALECT === 'sqlite' ? String(ms) : `'${new Date(ms).toISOString()}'`);
  await buildOld(dir, folder, [
    `INSERT INTO users (username, username_key, email, email_key, password_hash, created_at, updated_at)
     VALUES ('old', 'old', 'old@example.com', 'old@example.com', 'x', ${time(now)}, ${time(now)})`,
    // Before 0009 the session row held the current and previous hashes (each with a unique
    // index) and retired_refresh_tokens the older ones: v2 current, v1 previous, v0 retired.
    `INSERT INTO sessions (id, user_id, refresh_hash, previous_hash, child_seal, generation, created_at, last_used_at, expires_at, rotated_at)
     VALUES ('s-old', 1, 'v2', 'v1', 'seal-v2', 2, ${time(now - 60_000)}, ${time(now - 1000)}, ${time(now + 3_600_000)}, ${time(now - 1000)})`,
    `INSERT INTO retired_refresh_tokens (hash, session_id, retired_at) VALUES ('v0', 's-old', ${time(now - 1000)})`,
  ]);

  const { stores } = await openTestStores(t, { dir });
  const matches: string[] = [];
  const ask = (presentedHash: string, decision: ReturnType<RotationRequest['decide']>) =>
    stores.sessions.rotate({
      presentedHash,
      now: new Date(now),
      childHash: `child-of-${presentedHash}`,
      childSeal: 'unused',
      childExpiresAt: new Date(now + 3_600_000),
      decide: (match) => (matches.push(match), decision),
    });
  const replay = await ask('v1', { kind: 'replay' });
  assert.ok(replay.found && replay.seal === 'seal-v2', 'the previous token is found, with its child');
  assert.ok((await ask('v0', { kind: 'refuse', reason: 'revoked' })).found);
  assert.ok((await ask('v2', { kind: 'refuse', reason: 'revoked' })).found);
  assert.deepEqual(matches, ['previous', 'retired', 'current']);
  assert.equal((await stores.sessions.findByRefreshHash('v2'))?.id, 's-old', 'logout and revocation find it by its current token');
  // The moved hashes expire with their session: housekeeping keeps them until then.
  assert.equal(await stores.sessions.prune(new Date(now + 3_600_000 - 1)), 0);
  assert.ok((await ask('v0', { kind: 'refuse', reason: 'revoked' })).found, 'kept until the session expires');
  // And the rotation works on the moved row.
  const rotated = await ask('v2', { kind: 'rotate' });
  assert.ok(rotated.found && rotated.session.generation === 3);
  assert.equal((await stores.sessions.findByRefreshHash('child-of-v2'))?.id, 's-old');
});

/** A copy of the PostgreSQL migrations folder with one more migration at the end. */
function migrationsWith(dir: string, tag: string, sql: string): { folder: string; when: number } {
  const folder = path.join(dir, 'migrations-plus');
  cpSync(PG_MIGRATIONS, folder, { recursive: true });
  const journalFile = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: Array<{ idx: number; version: string; when: number; tag: string; breakpoints: boolean }> };
  const last = journal.entries.at(-1)!;
  journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1, tag });
  writeFileSync(journalFile, JSON.stringify(journal));
  writeFileSync(path.join(folder, `${tag}.sql`), sql);
  return { folder, when: last.when + 1 };
}

// 0009 on a million sessions ran longer than the pool's 10 s limit on a query, so the
// upgraded server could not start (the whole migration rolled back). Here the pool's limit is
// shortened so that the test need not take 10 s: a migration that takes longer than it, and
// an instance that waits longer than it for another to finish migrating, must both succeed.
test('PostgreSQL: a migration, and the wait for another instance\'s, may run longer than the pool\'s limit on a query', { skip: DIALECT !== 'postgres' && 'PostgreSQL run only' }, async (t) => {
  const dir = tempDir(t);
  const slow = migrationsWith(dir, '9999_slow', 'SELECT pg_sleep(0.6);');
  const conn = openPg(databaseUrlFor(dir), 1, 300);
  t.after(() => conn.pool.end());
  // The pool does enforce the short limit.
  await assert.rejects(conn.pool.query('SELECT pg_sleep(0.6)'), /statement timeout|Query read timeout/);

  // Another instance is migrating: it holds the lock for longer than the limit.
  const other = new pg.Client(conn.clientConfig);
  await other.connect();
  t.after(() => other.end());
  await other.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  const released = new Promise((resolve) => setTimeout(resolve, 600)).then(() => other.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]));

  try {
    await migratePg(conn, slow.folder);
  } finally {
    await released;
  }
  const { rows } = await conn.pool.query<{ last: string }>('SELECT max(created_at) AS last FROM __drizzle_migrations');
  assert.equal(Number(rows[0]!.last), slow.when, 'the slow migration is applied and recorded');
});
