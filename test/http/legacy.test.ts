/**
 * Moving over from the original FastAPI service: a database built exactly like its Prisma
 * schema (bcrypt cost 12 hashes, as passlib made them), imported with the real CLI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { SignJWT } from 'jose';
import { FAST_HASH_ENV, buildTestApp, countRows, databaseUrlFor, freshIp, me, refresh, register, sqlRows, tempDir } from '../helpers/app.js';
import { ROOT } from '../helpers/processes.js';

const ORIGINAL_SECRET = 'the-original-services-secret-key';
const LONG = `Long${'ü'.repeat(60)}9X`; // 126 UTF-8 bytes: bcrypt (and passlib) used the first 72

const ORIGINAL_USERS = [
  { id: 1, username: 'alice', email: 'alice@example.com', password: 'Wonderland1' },
  { id: 2, username: 'Bob', email: 'bob@example.com', password: 'Builder2024' },
  { id: 3, username: 'carol', email: 'carol@example.com', password: LONG },
  { id: 4, username: 'erin', email: 'erin@example.com', password: LONG },
  { id: 7, username: 'dave', email: 'dave@example.com', password: 'pässwörd-ÜTF8' },
];

/** The original's tables, as `prisma migrate` created them for its schema on SQLite. */
const PRISMA_SQL = `
CREATE TABLE "_prisma_migrations" ("id" TEXT PRIMARY KEY NOT NULL, "checksum" TEXT NOT NULL, "finished_at" DATETIME, "migration_name" TEXT NOT NULL, "logs" TEXT, "rolled_back_at" DATETIME, "started_at" DATETIME NOT NULL DEFAULT current_timestamp, "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0);
CREATE TABLE "User" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "username" TEXT NOT NULL, "email" TEXT NOT NULL, "password" TEXT NOT NULL);
CREATE TABLE "BlacklistedToken" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "token" TEXT NOT NULL, "expiresAt" DATETIME NOT NULL);
CREATE UNIQUE INDEX "User_username_key" ON "User"("username");
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE UNIQUE INDEX "BlacklistedToken_token_key" ON "BlacklistedToken"("token");
`;

function originalToken(sub: string, seconds: number, extra: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...extra }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(sub).setIssuedAt(now).setExpirationTime(now + seconds).sign(new TextEncoder().encode(ORIGINAL_SECRET));
}

async function buildOriginalDatabase(dir: string, blacklisted: string[]): Promise<string> {
  const file = path.join(dir, 'BOT.sqlite');
  const db = new Database(file);
  db.exec(PRISMA_SQL);
  const insert = db.prepare('INSERT INTO "User" (id, username, email, password) VALUES (?, ?, ?, ?)');
  for (const u of ORIGINAL_USERS) {
    // passlib's bcrypt: UTF-8, 72-byte limit, $2b$, cost 12.
    // This bcrypt library writes the $2y$ prefix; passlib writes $2b$ for the same algorithm.
    const hash = (await bcryptHash(Buffer.from(u.password, 'utf8').subarray(0, 72), 12)).replace(/^\$2y\$/, '$2b$');
    insert.run(u.id, u.username, u.email, hash);
  }
  const black = db.prepare('INSERT INTO "BlacklistedToken" (token, "expiresAt") VALUES (?, ?)');
  // Prisma stores DateTime on SQLite as epoch milliseconds.
  for (const token of blacklisted) black.run(token, Date.now() + 30 * 60_000);
  black.run('an.expired.entry', Date.now() - 60_000);
  db.close();
  return file;
}

function gatehouse(args: string[], databaseUrl: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, ...FAST_HASH_ENV },
    encoding: 'utf8',
  });
}

// Slow: cost-12 bcrypt, and while imported hashes remain every login pays one (timing).
test('import the original database, log every user in with the old password, hashes upgraded', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t);
  const source = await buildOriginalDatabase(dir, []);
  const url = databaseUrlFor(dir);

  // Gatehouse already has a user holding id 1: alice keeps her name but gets a new id.
  const before = await buildTestApp(t, {}, { dir });
  await register(before, { username: 'existing', email: 'existing@example.com' });
  await before.app.close();

  const dry = gatehouse(['import', '--from', `file:${source}`, '--dry-run'], url);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /dry run, nothing written.*would import 5/);
  assert.equal(await countRows(dir, 'users'), 1, 'a dry run writes nothing');

  const first = gatehouse(['import', '--from', `file:${source}`], url);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /5 users read: imported 5 \(4 with their original id\), 0 already present, 0 skipped/);
  const second = gatehouse(['import', '--from', source], url);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout, /imported 0 .* 5 already present/);
  assert.match(second.stdout, /nothing new to import/);

  const rows = await sqlRows<{ id: number; username: string; password_hash: string }>(dir, 'SELECT id, username, password_hash FROM users ORDER BY id');
  assert.deepEqual(rows.map((r) => [r.id, r.username]), [[1, 'existing'], [2, 'Bob'], [3, 'carol'], [4, 'erin'], [7, 'dave'], [8, 'alice']]);
  assert.ok(rows.filter((r) => r.username !== 'existing').every((r) => r.password_hash.startsWith('$2b$12$')));

  const app = await buildTestApp(t, {}, { dir });
  // As with passlib, only the first 72 UTF-8 bytes ever counted: 'Long' + 34 × 'ü' is
  // exactly those bytes of erin's password, and the original accepted it too. (The
  // upgrade then hashes what she typed: from now on that is her password.)
  const first72 = `Long${'ü'.repeat(34)}`;
  assert.equal(Buffer.byteLength(first72), 72);
  const erin = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'erin', password: first72 }, remoteAddress: freshIp() });
  assert.equal(erin.statusCode, 200, erin.body);
  for (const u of ORIGINAL_USERS.filter((u) => u.username !== 'erin')) {
    for (const identifier of [u.username, u.email]) {
      const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: identifier, password: u.password }, remoteAddress: freshIp() });
      assert.equal(res.statusCode, 200, `${identifier}: ${res.body}`);
    }
  }
  await app.app.close();
  const again = await buildTestApp(t, {}, { dir });
  await register(again, { username: 'late', email: 'late@example.com' });
  assert.equal((await again.app.inject({ method: 'POST', url: '/login', payload: { username: 'carol', password: 'Wrong-password-1' }, remoteAddress: freshIp() })).statusCode, 401);
  const upgraded = await sqlRows<{ username: string; password_hash: string }>(dir, 'SELECT username, password_hash FROM users');
  for (const r of upgraded) assert.match(r.password_hash, /^\$argon2id\$/, `${r.username} upgraded to argon2id`);
  assert.equal((await again.app.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: 'Builder2024' }, remoteAddress: freshIp() })).statusCode, 200, 'the argon2id hash works');
  assert.equal((await again.app.inject({ method: 'POST', url: '/login', payload: { username: 'carol', password: LONG }, remoteAddress: freshIp() })).statusCode, 200);
  // New sign-ups after an import get fresh ids, never an imported one.
  const late = await sqlRows<{ id: number }>(dir, "SELECT id FROM users WHERE username = 'late'");
  assert.equal(late[0]!.id, 9);
});

test('transition mode: live original tokens work, blacklisted ones are refused, a refresh token is exchanged once', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const blacklistedAccess = await originalToken('alice', 20 * 60);
  const source = await buildOriginalDatabase(dir, [blacklistedAccess]);
  const url = databaseUrlFor(dir);
  const imported = gatehouse(['import', '--from', source], url);
  assert.equal(imported.status, 0, imported.stderr);
  assert.match(imported.stdout, /imported 1 unexpired blacklisted tokens/);

  const off = await buildTestApp(t, {}, { dir });
  const liveAccess = await originalToken('alice', 25 * 60);
  assert.equal((await me(off, liveAccess)).statusCode, 401, 'off by default');
  await off.app.close();

  const app = await buildTestApp(t, { LEGACY_SECRET_KEY: ORIGINAL_SECRET }, { dir });
  const ok = await me(app, liveAccess);
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().username, 'alice');
  assert.equal((await me(app, blacklistedAccess)).statusCode, 401, 'blacklisted by the original service');
  assert.equal((await me(app, await originalToken('alice', -60))).statusCode, 401, 'expired');
  const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime('10m').sign(new TextEncoder().encode('not-the-secret'));
  assert.equal((await me(app, forged)).statusCode, 401, 'wrong secret');
  // Original tokens name users by their original username, exactly; a Gatehouse account
  // that merely has a matching name is never reachable with them.
  await register(app, { username: 'mallory', email: 'mallory@example.com' });
  assert.equal((await me(app, await originalToken('mallory', 25 * 60))).statusCode, 401, 'not an imported user');
  assert.equal((await me(app, await originalToken('ALICE', 25 * 60))).statusCode, 401, 'not the exact original username');
  const refreshAsAccess = await originalToken('alice', 7 * 86_400);
  assert.equal((await me(app, refreshAsAccess)).statusCode, 401, 'a refresh token is no access token');

  // Logout with an original access token revokes it.
  const other = await originalToken('Bob', 25 * 60);
  assert.equal((await app.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${other}` } })).statusCode, 200);
  assert.equal((await me(app, other)).statusCode, 401);

  // An original refresh token buys one Gatehouse session, once.
  for (const legacyRefresh of [await originalToken('carol', 7 * 86_400), await originalToken('dave', 86_400, { type: 'refresh' })]) {
    const exchanged = await refresh(app, legacyRefresh);
    assert.equal(exchanged.statusCode, 200, exchanged.body);
    const pair = exchanged.json();
    assert.match(pair.refresh_token, /^ghr_/);
    assert.equal((await me(app, pair.access_token)).statusCode, 200);
    assert.equal((await refresh(app, legacyRefresh)).statusCode, 401, 'only once');
    assert.equal((await refresh(app, pair.refresh_token)).statusCode, 200, 'the new session rotates as usual');
  }
  assert.equal((await refresh(app, liveAccess)).statusCode, 401, 'an access token buys no session');

  const ended = await buildTestApp(t, { LEGACY_SECRET_KEY: ORIGINAL_SECRET, LEGACY_TOKENS_UNTIL: '2020-01-01T00:00:00Z' }, {});
  assert.equal((await me(ended, liveAccess)).statusCode, 401, 'after LEGACY_TOKENS_UNTIL nothing is accepted');
});

test('a file that is not SQLite, a corrupt one, or another SQLite database fail cleanly with nothing written', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const url = databaseUrlFor(dir);
  const app = await buildTestApp(t, {}, { dir });
  await register(app, { username: 'keeper' });

  const text = path.join(dir, 'notes.txt');
  writeFileSync(text, 'this is not a database\n'.repeat(100));
  const corrupt = path.join(dir, 'corrupt.sqlite');
  const good = await buildOriginalDatabase(dir, []);
  const bytes = readFileSync(good);
  bytes.fill(0x42, 100, 3000);
  writeFileSync(corrupt, bytes);
  const other = path.join(dir, 'other.sqlite');
  const db = new Database(other);
  db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
  db.close();

  for (const [file, message] of [
    [text, /not a readable SQLite database|file is not a database/],
    [corrupt, /not a readable SQLite database|malformed|not a database/],
    [other, /no "User" table/],
    [path.join(dir, 'missing.sqlite'), /no such file/],
  ] as const) {
    const res = gatehouse(['import', '--from', file], url);
    assert.notEqual(res.status, 0, file);
    assert.match(res.stderr, /import failed, nothing written/);
    assert.match(res.stderr, message);
    assert.equal(res.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
  }
  assert.equal(await countRows(dir, 'users'), 1);
});
