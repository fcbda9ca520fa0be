/**
 * The SQLite migrator (src/storage/drizzle/sqlite/migrate.ts) against another process that
 * holds the write lock, as an instance that started first and is migrating a large database
 * does (0009 took 57 s on a million sessions). Real SQLite files; the other process is a
 * worker thread with its own connection. SQLite only: this folder is not among the suites
 * the test runner repeats on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { migrateSqlite } from '../../src/storage/drizzle/sqlite/migrate.js';

/** Another connection takes the write lock, says so, and keeps it for `holdMs`. */
const HOLDER = `
const Database = require('better-sqlite3');
const { parentPort, workerData } = require('node:worker_threads');
const db = new Database(workerData.file);
db.exec('BEGIN IMMEDIATE');
parentPort.postMessage('locked');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
db.exec('COMMIT');
db.close();
`;

test('a migration waits for another connection\'s write lock longer than the connection\'s busy timeout, then restores its settings', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-migrate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'gatehouse.sqlite');
  const db = new Database(file);
  t.after(() => db.close());
  db.pragma('journal_mode = WAL');
  // Shorter than the lock is held, as the server's 5 s is shorter than a large migration.
  db.pragma('busy_timeout = 100');
  db.pragma('synchronous = NORMAL');

  const holder = new Worker(HOLDER, { eval: true, workerData: { file, holdMs: 1000 } });
  const exited = new Promise((resolve, reject) => holder.on('exit', resolve).on('error', reject));
  // A worker that fails before it holds the lock fails the test instead of hanging it.
  await Promise.race([new Promise((resolve) => holder.once('message', resolve)), exited.then(() => assert.fail('the lock holder ended first'))]);

  const started = Date.now();
  const { applied } = migrateSqlite(db);
  // Longer than the connection's own 100 ms would have waited (the lock is held for 1 s).
  assert.ok(Date.now() - started > 150, 'it waited for the lock');
  assert.ok(applied > 0);
  assert.ok((db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'refresh_token_hashes'`).get() as { n: number }).n === 1);
  assert.equal(db.pragma('busy_timeout', { simple: true }), 100, 'the connection\'s busy timeout is back');
  assert.equal(db.pragma('synchronous', { simple: true }), 1, 'synchronous is NORMAL again');
  await exited;
});
