/**
 * `gatehouse import` on a source too large to read at once: the original's rows stream
 * through the import batch by batch, so the heap does not grow with the source. The test
 * measures, in the same process and after forced collections, what holding the source's
 * rows at once costs (the control) and how much the heap grows during the import; memory,
 * not time, so a loaded machine does not change the verdict.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Database from 'better-sqlite3';
import { importLegacyUsers, type LegacySource } from '../../src/services/legacy-import.js';
import { LegacyDatabaseError, openLegacyDatabase } from '../../src/storage/legacy/prisma-sqlite.js';
import { openTestStores } from '../helpers/stores.js';
import { tempDir } from '../helpers/app.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after full collections (what is still referenced). */
function liveHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const USERS = 60_000;
const HASH = `$2b$12$${'N9qo8uLOickgx2ZMRZoMye'.repeat(3).slice(0, 53)}`;

function buildSource(file: string, users: number, badDateLast = false): void {
  const db = new Database(file);
  db.exec(`CREATE TABLE "User" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "username" TEXT NOT NULL, "email" TEXT NOT NULL, "password" TEXT NOT NULL);
    CREATE TABLE "BlacklistedToken" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "token" TEXT NOT NULL, "expiresAt" DATETIME NOT NULL);`);
  const user = db.prepare('INSERT INTO "User" (id, username, email, password) VALUES (?, ?, ?, ?)');
  const token = db.prepare('INSERT INTO "BlacklistedToken" (token, expiresAt) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 1; i <= users; i++) user.run(i, `original_user_${i}`, `original.user.${i}@old.example`, HASH);
    for (let i = 1; i <= 3000; i++) token.run(`eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1${i}In0.sig${i}`, Date.now() + 3_600_000);
    if (badDateLast) token.run('eyJhbGciOiJIUzI1NiJ9.bad.sig', 'not a date');
  })();
  db.close();
}

test('a large source streams through the import: the heap does not grow with it', { timeout: 600_000 }, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'BOT.sqlite');
  buildSource(file, USERS);
  const { stores } = await openTestStores(t);
  // Holds id 1: the original user 1 is placed in the second pass, under a new id.
  const taken = await stores.users.create({ username: 'taken', usernameKey: 'taken', email: 'taken@example.com', emailKey: 'taken@example.com', passwordHash: 'x', createdAt: new Date() });
  assert.equal(taken.id, 1);

  const source = openLegacyDatabase(file);
  t.after(() => source.close());
  assert.equal(source.userCount, USERS);

  // Control: what reading every row at once holds.
  const atOnce = (() => {
    const before = liveHeap();
    const all = [...source.userBatches()].flat();
    const held = liveHeap() - before;
    assert.equal(all.length, USERS);
    return held;
  })();

  // The import, sampling the live heap each time it asks for the next batch.
  const base = liveHeap();
  let peak = 0;
  let batches = 0;
  const sampled: LegacySource = {
    *userBatches() {
      for (const batch of source.userBatches()) {
        peak = Math.max(peak, liveHeap() - base);
        batches++;
        yield batch;
      }
    },
    usersById: (ids) => source.usersById(ids),
    *blacklistBatches() {
      for (const batch of source.blacklistBatches()) {
        peak = Math.max(peak, liveHeap() - base);
        yield batch;
      }
    },
  };
  const report = await importLegacyUsers(stores.imports, sampled, new Date(), false);
  t.diagnostic(`rows held at once: ${(atOnce / 2 ** 20).toFixed(1)} MiB; heap growth during the streamed import: ${(peak / 2 ** 20).toFixed(1)} MiB over ${batches} batches`);

  assert.equal(report.imported, USERS);
  assert.equal(report.keptIds, USERS - 1);
  assert.equal(report.conflicts.length, 0);
  assert.equal(report.revokedTokens, 3000);
  assert.ok(batches >= 10, `read in batches (${batches})`);
  assert.ok((await stores.users.findByLegacyUsername('original_user_1'))!.id > USERS, 'the user whose id was taken comes in the second pass');
  assert.equal((await stores.users.findByLegacyUsername(`original_user_${USERS}`))?.id, USERS);
  // The rows at once are many MiB; the streamed import's growth must stay well below.
  assert.ok(atOnce > 8 * 2 ** 20, `the control holds the rows (${atOnce} bytes)`);
  assert.ok(peak < atOnce / 4, `heap grew by ${peak} bytes while streaming; the rows at once hold ${atOnce}`);
});

test('a bad row at the end of a large source is refused before anything is written', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'BOT.sqlite');
  buildSource(file, 5000, true);
  assert.throws(() => openLegacyDatabase(file), (error: unknown) => error instanceof LegacyDatabaseError && /is not a date/.test(error.message));
});
