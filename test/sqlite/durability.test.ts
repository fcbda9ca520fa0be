/**
 * The SQLite durability barrier (src/storage/drizzle/sqlite/connection.ts): commits run
 * with synchronous=NORMAL and each write awaits an asynchronous fsync of the -wal file,
 * shared between concurrent writers (group commit). Real SQLite files throughout; only the
 * fsync call is wrapped, to observe it, hold it back, or make it fail. SQLite only: this
 * folder is not among the suites the test runner repeats on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { fstatSync, fsync as fsyncCallback, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import type { Stores } from '../../src/services/ports.js';
import { ROTATED_COLUMNS, rotatedSession, type SessionRow } from '../../src/storage/drizzle/mappers.js';
import { GroupCommit, openSqlite } from '../../src/storage/drizzle/sqlite/connection.js';
import { createSqliteStores } from '../../src/storage/drizzle/sqlite/index.js';
import { createCheckpointer } from '../../src/storage/drizzle/sqlite/checkpointer.js';

const realFsync = promisify(fsyncCallback);

function dbFile(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-durability-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'gatehouse.sqlite');
}

/** Lets the microtask queue and a few event-loop turns run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

function track(promise: Promise<unknown>): { done: boolean; error: unknown } {
  const state = { done: false, error: undefined as unknown };
  promise.then(
    () => (state.done = true),
    (error: unknown) => {
      state.done = true;
      state.error = error;
    },
  );
  return state;
}

/** An fsync the test releases (or fails) by hand, one call at a time. */
function gatedFsync() {
  const calls: Array<{ fd: number; release: () => Promise<void>; fail: (error: Error) => void; before: number | undefined }> = [];
  let onStart: ((fd: number) => number | undefined) | undefined;
  let open = false;
  const fsync = (fd: number) =>
    open ? realFsync(fd) : new Promise<void>((resolve, reject) => {
      const before = onStart?.(fd);
      calls.push({
        fd,
        before,
        // Resolves once the real fsync is done and the waiters were told.
        release: () => realFsync(fd).then(resolve, reject),
        fail: reject,
      });
    });
  return {
    fsync,
    calls,
    onStart: (f: (fd: number) => number | undefined) => (onStart = f),
    /** From now on fsync passes straight through (for the final flush of close()). */
    open: () => (open = true),
  };
}

/** Stores on a fresh file whose fsyncs wait for the test; closed (gate opened) after it. */
function gatedStores(t: TestContext) {
  const file = dbFile(t);
  const gate = gatedFsync();
  const stores = createSqliteStores(file, { fsync: gate.fsync });
  t.after(() => {
    gate.open();
    return stores.close();
  });
  return { file, gate, stores };
}

const newUser = (name: string) => ({ username: name, usernameKey: name, email: `${name}@example.com`, emailKey: `${name}@example.com`, passwordHash: 'x', createdAt: new Date() });

const newSession = (userId: number, refreshHash: string = randomUUID()) => ({
  id: randomUUID(),
  userId,
  clientId: 'gatehouse',
  refreshHash,
  userAgent: null,
  ip: null,
  createdAt: new Date(),
  expiresAt: new Date(Date.now() + 86_400_000),
});

test('GroupCommit: a caller arriving during a flush waits for the next one, which all such callers share', async () => {
  const rounds: Array<() => void> = [];
  const group = new GroupCommit(() => new Promise<void>((resolve) => rounds.push(resolve)));

  const first = track(group.wait());
  assert.equal(rounds.length, 1, 'the first caller starts a flush at once');
  const late = Array.from({ length: 5 }, () => track(group.wait()));
  assert.equal(rounds.length, 1, 'callers during a flush start nothing yet');

  rounds[0]!();
  await settle();
  assert.ok(first.done && first.error === undefined);
  assert.ok(late.every((s) => !s.done), 'their commits may postdate the first flush: they wait for the next');
  assert.equal(rounds.length, 2, 'the next flush starts as soon as the first ends');

  const later = track(group.wait());
  rounds[1]!();
  await settle();
  assert.ok(late.every((s) => s.done && s.error === undefined), 'one flush for all five');
  assert.equal(later.done, false, 'a caller during the second flush waits for a third');
  rounds[2]!();
  await settle();
  assert.ok(later.done);
  assert.equal(group.flushes, 3);

  // Idle again: the next caller starts a flush of its own (its commit is after all of them).
  const idle = track(group.wait());
  assert.equal(rounds.length, 4);
  rounds[3]!();
  await settle();
  assert.ok(idle.done);
});

test('GroupCommit: a failed flush rejects its callers, the queued ones, and every later call', async () => {
  const rounds: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const group = new GroupCommit(() => new Promise<void>((resolve, reject) => rounds.push({ resolve, reject })));
  const first = group.wait();
  const queued = group.wait();
  rounds[0]!.reject(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
  await assert.rejects(first, /fsync of the SQLite write-ahead log failed: EIO/);
  await assert.rejects(queued, /fsync of the SQLite write-ahead log failed/);
  await assert.rejects(group.wait(), /fsync .* failed/, 'no later write can be promised durable');
  assert.equal(rounds.length, 1, 'and nothing is retried');
  assert.ok(group.failure);
});

test('the connection runs synchronous=NORMAL in WAL mode and fsyncs the -wal file it keeps open', async (t) => {
  const file = dbFile(t);
  const fds: number[] = [];
  const conn = openSqlite(file, {
    fsync: (fd) => {
      fds.push(fd);
      return realFsync(fd);
    },
  });
  assert.equal(conn.raw.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(conn.raw.pragma('synchronous', { simple: true }), 1, 'NORMAL');
  conn.raw.exec('CREATE TABLE t (x)');
  conn.raw.prepare('INSERT INTO t VALUES (1)').run();
  await conn.durable();
  await conn.durable();
  assert.equal(fds.length, 2);
  assert.equal(fds[0], fds[1], 'one descriptor for the connection, not one per call');
  assert.equal(fstatSync(fds[0]!).ino, statSync(`${file}-wal`).ino, 'the descriptor is the -wal file');
  await conn.close();
});

test('a write is acknowledged only after an fsync that started after its commit', async (t) => {
  const { file, gate, stores } = gatedStores(t);
  // Each fsync records how many users were committed when it started.
  const reader = new Database(file, { readonly: true });
  t.after(() => reader.close());
  const countUsers = reader.prepare<[], { n: number }>('SELECT count(*) AS n FROM users');
  gate.onStart(() => countUsers.get()!.n);

  const a = track(stores.users.create(newUser('alice')));
  assert.equal(gate.calls.length, 1, 'the first write starts an fsync at once');
  assert.equal(gate.calls[0]!.before, 1, 'after its commit');
  const b = track(stores.users.create(newUser('bob')));
  const c = track(stores.users.create(newUser('carol')));
  await settle();
  assert.equal(gate.calls.length, 1, 'writes during an fsync do not start another');
  assert.ok(!a.done && !b.done && !c.done, 'nothing is acknowledged before its fsync');

  await gate.calls[0]!.release();
  await settle();
  assert.ok(a.done && a.error === undefined);
  assert.ok(!b.done && !c.done, 'committed after the running fsync started: wait for the next one');
  assert.equal(gate.calls.length, 2);
  assert.equal(gate.calls[1]!.before, 3, 'the next fsync starts after both commits');

  await gate.calls[1]!.release();
  await settle();
  assert.ok(b.done && c.done && b.error === undefined && c.error === undefined, 'one fsync for both');

  // A rotation, too, answers only after its fsync.
  const user = await findUser(stores, 'alice', gate);
  const session = newSession(user.id);
  const created = track(stores.sessions.create(session));
  await settle();
  assert.equal(created.done, false);
  await gate.calls.at(-1)!.release();
  await settle();
  assert.ok(created.done);
  const rotated = track(
    stores.sessions.rotate({
      presentedHash: session.refreshHash,
      now: new Date(),
      childHash: randomUUID(),
      childSeal: 'seal',
      childExpiresAt: new Date(Date.now() + 86_400_000),
      decide: () => ({ kind: 'rotate' }),
    }),
  );
  await settle();
  assert.equal(rotated.done, false, 'the rotation waits for its fsync');
  await gate.calls.at(-1)!.release();
  await settle();
  assert.ok(rotated.done && rotated.error === undefined);
});

async function findUser(stores: Stores, name: string, gate: ReturnType<typeof gatedFsync>) {
  // Reads do not wait for any fsync.
  const calls = gate.calls.length;
  const user = await stores.users.findByLogin(name);
  assert.equal(gate.calls.length, calls);
  return user!;
}

test('many concurrent writes share few fsyncs, all resolve, and are all there after reopening', async (t) => {
  const file = dbFile(t);
  let fsyncs = 0;
  const stores = createSqliteStores(file, {
    fsync: (fd) => {
      fsyncs++;
      return realFsync(fd);
    },
  });
  const user = await stores.users.create(newUser('owner'));
  const before = fsyncs;
  const writes: Array<Promise<unknown>> = [];
  const ids: string[] = [];
  for (let i = 0; i < 300; i++) {
    const session = newSession(user.id);
    ids.push(session.id);
    writes.push(stores.sessions.create(session));
    writes.push(stores.audit.append({ at: new Date(), type: 'login_succeeded', userId: user.id, ip: null, userAgent: null, detail: { i } }));
    writes.push(stores.revokedTokens.revoke(`jti-${i}`, new Date(Date.now() + 60_000)));
  }
  await Promise.all(writes);
  const used = fsyncs - before;
  assert.ok(used >= 1 && used <= 3, `900 writes issued in one tick share at most 3 fsyncs (got ${used})`);
  await stores.close();

  const reopened = createSqliteStores(file);
  t.after(() => reopened.close());
  const listed = await reopened.sessions.listActive(user.id, new Date());
  assert.deepEqual(new Set(listed.map((s) => s.id)), new Set(ids));
  assert.equal((await reopened.audit.list({ userId: user.id, limit: 1000 })).length, 300);
  assert.equal(await reopened.revokedTokens.isRevoked('jti-299'), true);
});

test('an fsync error fails the write (never acknowledged), every write after it, and readiness', async (t) => {
  const { gate, stores } = gatedStores(t);
  const first = stores.users.create(newUser('dave'));
  const queued = stores.audit.append({ at: new Date(), type: 'registered', userId: null, ip: null, userAgent: null, detail: null });
  gate.calls[0]!.fail(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
  await assert.rejects(first, /fsync of the SQLite write-ahead log failed/);
  await assert.rejects(queued, /fsync of the SQLite write-ahead log failed/);
  await assert.rejects(stores.users.create(newUser('erin')), /fsync .* failed/);
  await assert.rejects(stores.ping(), /fsync .* failed/, '/readyz reports the database not ready');
  assert.equal(gate.calls.length, 1, 'no fsync after the failed one');
  assert.ok(await stores.users.findByLogin('dave'), 'reads still work');
});

test('close waits for a running fsync before closing the descriptor', async (t) => {
  const file = dbFile(t);
  const gate = gatedFsync();
  const stores = createSqliteStores(file, { fsync: gate.fsync });
  const write = track(stores.users.create(newUser('frank')));
  const closed = track(stores.close());
  await settle();
  assert.equal(closed.done, false);
  await gate.calls[0]!.release();
  await settle();
  assert.equal(gate.calls.length, 2, 'close() queues a last flush behind the running one');
  assert.equal(closed.done, false);
  await gate.calls[1]!.release();
  await settle();
  assert.ok(write.done && write.error === undefined);
  assert.ok(closed.done && closed.error === undefined);
  const reopened = createSqliteStores(file);
  t.after(() => reopened.close());
  assert.ok(await reopened.users.findByLogin('frank'));
});

test('the prepared rotation writes exactly the columns rotatedSession sets, as integer milliseconds', async (t) => {
  const row = { refreshHash: 'a', generation: 1 } as SessionRow;
  const request = { presentedHash: 'a', now: new Date(), childHash: 'b', childSeal: 's', childExpiresAt: new Date(), decide: () => ({ kind: 'rotate' }) as const };
  assert.deepEqual([...ROTATED_COLUMNS].sort(), Object.keys(rotatedSession(row, request)).sort());

  const file = dbFile(t);
  const stores = createSqliteStores(file);
  t.after(() => stores.close());
  const user = await stores.users.create(newUser('grace'));
  const session = newSession(user.id, 'h0');
  await stores.sessions.create(session);
  const now = new Date(Date.now() + 1000);
  const expires = new Date(Date.now() + 2 * 86_400_000);
  for (const [presented, child] of [['h0', 'h1'], ['h1', 'h2']] as const) {
    const out = await stores.sessions.rotate({ presentedHash: presented, now, childHash: child, childSeal: `seal-${child}`, childExpiresAt: expires, decide: () => ({ kind: 'rotate' }) });
    assert.ok(out.found && out.decision.kind === 'rotate');
  }
  const raw = new Database(file, { readonly: true });
  t.after(() => raw.close());
  const stored = raw.prepare('SELECT * FROM sessions WHERE id = ?').get(session.id) as Record<string, unknown>;
  assert.deepEqual(
    { ...stored },
    {
      id: session.id,
      user_id: user.id,
      client_id: 'gatehouse',
      refresh_hash: 'h2',
      previous_hash: 'h1',
      child_seal: 'seal-h2',
      generation: 2,
      user_agent: null,
      ip: null,
      created_at: session.createdAt.getTime(),
      last_used_at: now.getTime(),
      expires_at: expires.getTime(),
      rotated_at: now.getTime(),
      revoked_at: null,
      revoke_reason: null,
      amr: 'pwd',
    },
  );
  assert.deepEqual(raw.prepare('SELECT hash, session_id, expires_at FROM refresh_token_hashes ORDER BY hash').all(), [
    { hash: 'h0', session_id: session.id, expires_at: session.expiresAt.getTime() },
    { hash: 'h1', session_id: session.id, expires_at: expires.getTime() },
    { hash: 'h2', session_id: session.id, expires_at: expires.getTime() },
  ]);
  const users = raw.prepare('SELECT created_at, updated_at, email_verified, legacy_username FROM users').get();
  assert.deepEqual({ ...(users as object) }, { created_at: user.createdAt.getTime(), updated_at: user.createdAt.getTime(), email_verified: 0, legacy_username: null });

  // Replay and reuse through their prepared statements.
  const replay = await stores.sessions.rotate({ presentedHash: 'h1', now, childHash: 'x', childSeal: 'x', childExpiresAt: expires, decide: () => ({ kind: 'replay' }) });
  assert.ok(replay.found && replay.seal === 'seal-h2');
  const later = new Date(now.getTime() + 5000);
  const reuse = await stores.sessions.rotate({ presentedHash: 'h0', now: later, childHash: 'x', childSeal: 'x', childExpiresAt: expires, decide: (match) => (match === 'retired' ? { kind: 'reuse' } : { kind: 'refuse', reason: 'revoked' }) });
  assert.ok(reuse.found && reuse.decision.kind === 'reuse');
  assert.deepEqual(
    { ...(raw.prepare('SELECT revoked_at, revoke_reason FROM sessions').get() as object) },
    { revoked_at: later.getTime(), revoke_reason: 'refresh_token_reuse' },
  );
});

test('with background checkpoints, a worker thread moves the WAL into the database file; the commits never do', async (t) => {
  const file = dbFile(t);
  const conn = openSqlite(file, { backgroundCheckpoints: true });
  let closed = false;
  t.after(async () => {
    if (!closed) await conn.close();
  });
  assert.equal(conn.raw.pragma('wal_autocheckpoint', { simple: true }), 32_000, 'the commit-time checkpoint is only a backstop');
  conn.raw.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, blob BLOB)');
  await conn.durable();
  const before = statSync(file).size;
  const insert = conn.raw.prepare('INSERT INTO filler (blob) VALUES (?)');
  // ~1 200 pages: past the default 1 000-page threshold, far below the backstop.
  for (let i = 0; i < 300; i++) {
    conn.raw.transaction(() => {
      for (let j = 0; j < 4; j++) insert.run(Buffer.alloc(3000, i));
    })();
  }
  await conn.durable();
  assert.ok(statSync(file).size - before < 64 * 1024, 'no commit copied the WAL into the database file');
  // The worker checkpoints every 200 ms.
  const deadline = Date.now() + 10_000;
  while (statSync(file).size - before < 1000 * 4096 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(statSync(file).size - before >= 1000 * 4096, `the database file grew by ${statSync(file).size - before} bytes`);
  await conn.close();
  closed = true;
  const reopened = new Database(file, { readonly: true });
  assert.equal((reopened.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n, 1200);
  reopened.close();
});

test('the checkpointer thread ends once the WAL is copied and idle, and the next commit starts it again', async (t) => {
  const file = dbFile(t);
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('wal_autocheckpoint = 0');
  raw.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, blob BLOB)');
  // Idle after 1 s: the commits below come every 100 ms, so only a stall of the test's own
  // event loop for a whole second could end the thread between two of them.
  const checkpointer = createCheckpointer(file, { idleMs: 1_000 });
  t.after(async () => {
    await checkpointer.stop();
    raw.close();
  });
  const insert = raw.prepare('INSERT INTO filler (blob) VALUES (?)');
  const until = async (what: string, done: () => boolean): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!done()) {
      assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  assert.equal(checkpointer.running, false, 'no thread before the first commit');
  const initial = statSync(file).size;

  // Commits every 100 ms for 1.5 s: never idle for a second, so one thread serves them all.
  for (let i = 0; i < 15; i++) {
    insert.run(Buffer.alloc(3000, i));
    checkpointer.wake();
    assert.equal(checkpointer.running, true, `the thread is running at commit ${i}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(checkpointer.starts, 1, 'the thread did not end while commits kept coming');
  await until('the WAL is copied into the database file', () => statSync(file).size - initial >= 15 * 3000);
  await until('the thread has ended', () => !checkpointer.running);
  assert.equal(checkpointer.starts, 1);

  // The next commit starts a new thread, which copies it.
  const before = statSync(file).size;
  for (let i = 0; i < 50; i++) insert.run(Buffer.alloc(3000, i));
  checkpointer.wake();
  assert.equal(checkpointer.running, true);
  assert.equal(checkpointer.starts, 2, 'the next commit started a new thread');
  await until('the new commits are copied', () => statSync(file).size - before >= 50 * 3000);
  await until('the thread has ended again', () => !checkpointer.running);
  assert.equal((raw.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n, 65);
});

test('rotations asked for together: one that throws fails alone, the others commit', async (t) => {
  const file = dbFile(t);
  const stores = createSqliteStores(file);
  t.after(() => stores.close());
  const user = await stores.users.create(newUser('heidi'));
  const made = [];
  for (let i = 0; i < 5; i++) made.push(await stores.sessions.create(newSession(user.id, `b${i}`)));
  const now = new Date(Date.now() + 1000);
  const expires = new Date(Date.now() + 2 * 86_400_000);
  // All five are asked for before any is answered: they land in the same batch.
  const settled = await Promise.allSettled(
    made.map((_, i) =>
      stores.sessions.rotate({
        presentedHash: `b${i}`,
        now,
        childHash: `c${i}`,
        childSeal: `seal-c${i}`,
        childExpiresAt: expires,
        decide: (match) => {
          if (i === 2) throw new Error('boom');
          return match === 'current' ? { kind: 'rotate' } : { kind: 'refuse', reason: 'revoked' };
        },
      }),
    ),
  );
  assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  assert.equal((settled[2] as PromiseRejectedResult).reason.message, 'boom');

  const raw = new Database(file, { readonly: true });
  t.after(() => raw.close());
  const rows = raw.prepare('SELECT refresh_hash, previous_hash, generation FROM sessions ORDER BY refresh_hash').all();
  assert.deepEqual(rows.map((r) => ({ ...(r as object) })), [
    { refresh_hash: 'b2', previous_hash: null, generation: 0 },
    { refresh_hash: 'c0', previous_hash: 'b0', generation: 1 },
    { refresh_hash: 'c1', previous_hash: 'b1', generation: 1 },
    { refresh_hash: 'c3', previous_hash: 'b3', generation: 1 },
    { refresh_hash: 'c4', previous_hash: 'b4', generation: 1 },
  ]);
});

test('two rotations of one token in the same turn run in order: the second sees the first\'s child', async (t) => {
  const stores = createSqliteStores(dbFile(t));
  t.after(() => stores.close());
  const user = await stores.users.create(newUser('ivan'));
  await stores.sessions.create(newSession(user.id, 'd0'));
  const now = new Date(Date.now() + 1000);
  const expires = new Date(Date.now() + 2 * 86_400_000);
  const request = (child: string) => ({
    presentedHash: 'd0',
    now,
    childHash: child,
    childSeal: `seal-${child}`,
    childExpiresAt: expires,
    decide: (match: string) => (match === 'current' ? { kind: 'rotate' as const } : { kind: 'replay' as const }),
  });
  const [first, second] = await Promise.all([stores.sessions.rotate(request('d1')), stores.sessions.rotate(request('d1-other'))]);
  assert.ok(first.found && first.decision.kind === 'rotate' && first.session.generation === 1);
  assert.ok(second.found && second.decision.kind === 'replay');
  assert.equal(second.seal, 'seal-d1', 'the replay hands back the child the first rotation made');
});
