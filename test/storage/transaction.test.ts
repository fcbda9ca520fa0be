/**
 * The transaction port: all or nothing, and (SQLite, one shared connection) no statement
 * of another request ever runs inside an open transaction.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageUnavailableError } from '../../src/errors/unavailable.js';
import type { NewUser } from '../../src/services/ports.js';
import { DIALECT } from '../helpers/app.js';
import { openTestStores } from '../helpers/stores.js';

let n = 0;
function newUser(name = `u${++n}`): NewUser {
  return { username: name, usernameKey: name.toLowerCase(), email: `${name}@example.com`, emailKey: `${name.toLowerCase()}@example.com`, passwordHash: 'h', createdAt: new Date() };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('a transaction commits all its writes together, or none when its body throws', async (t) => {
  const { stores } = await openTestStores(t);
  const kept = await stores.transaction(async (tx) => {
    const user = await tx.users.create(newUser('kept'));
    await tx.audit.append({ at: new Date(), type: 'registered', userId: user.id, ip: null, userAgent: null, detail: null });
    return user;
  });
  assert.equal((await stores.users.findById(kept.id))?.username, 'kept');
  assert.equal((await stores.audit.list({ userId: kept.id, limit: 10 })).length, 1);

  await assert.rejects(
    stores.transaction(async (tx) => {
      await tx.users.create(newUser('gone'));
      await tx.audit.append({ at: new Date(), type: 'registered', userId: null, ip: null, userAgent: null, detail: { who: 'gone' } });
      throw new Error('later step failed');
    }),
    /later step failed/,
  );
  assert.equal(await stores.users.findByLogin('gone'), undefined);
  assert.equal((await stores.audit.list({ type: 'registered', limit: 10 })).length, 1);
});

test('a transaction\'s error from the database itself rolls back its earlier writes', async (t) => {
  const { stores } = await openTestStores(t);
  await stores.users.create(newUser('taken'));
  await assert.rejects(
    stores.transaction(async (tx) => {
      await tx.users.create(newUser('first'));
      await tx.users.create(newUser('taken')); // unique violation
    }),
    { name: 'DuplicateError' },
  );
  assert.equal(await stores.users.findByLogin('first'), undefined);
});

test('other requests\' writes and reads while a transaction is open are not part of it', async (t) => {
  const { stores } = await openTestStores(t);
  let inside!: () => void;
  const opened = new Promise<void>((resolve) => (inside = resolve));
  let release!: () => void;
  const mayFinish = new Promise<void>((resolve) => (release = resolve));

  const failing = stores.transaction(async (tx) => {
    await tx.users.create(newUser('uncommitted'));
    inside();
    // Yield to the event loop several times while open: other requests run meanwhile.
    await mayFinish;
    await nextTurn();
    throw new Error('the transaction fails after the concurrent request ran');
  });
  await opened;
  // Another request writes and reads while the transaction is open.
  const concurrentWrite = stores.users.create(newUser('concurrent'));
  const concurrentRead = stores.users.findByLogin('uncommitted');
  for (let i = 0; i < 5; i++) await nextTurn();
  release();
  await assert.rejects(failing, /fails after the concurrent request ran/);

  // The concurrent write was not rolled back with the failed transaction...
  const written = await concurrentWrite;
  assert.equal((await stores.users.findById(written.id))?.username, 'concurrent');
  // ...and the concurrent read never saw the uncommitted row.
  assert.equal(await concurrentRead, undefined);
  assert.equal(await stores.users.findByLogin('uncommitted'), undefined);
});

test('many concurrent transactions and plain writes all land, each transaction whole', async (t) => {
  const { stores } = await openTestStores(t);
  const work = Array.from({ length: 20 }, (_, i) =>
    i % 2 === 0
      ? stores.transaction(async (tx) => {
          const user = await tx.users.create(newUser(`tx${i}`));
          await nextTurn();
          await tx.audit.append({ at: new Date(), type: 'registered', userId: user.id, ip: null, userAgent: null, detail: null });
          if (i % 4 === 0) throw new Error(`roll back ${i}`);
        })
      : stores.users.create(newUser(`plain${i}`)),
  );
  const results = await Promise.allSettled(work);
  for (let i = 0; i < 20; i++) {
    const user = await stores.users.findByLogin(i % 2 === 0 ? `tx${i}` : `plain${i}`);
    if (i % 4 === 0) {
      assert.equal(results[i]!.status, 'rejected');
      assert.equal(user, undefined, `tx${i} rolled back`);
    } else {
      assert.equal(results[i]!.status, 'fulfilled');
      assert.ok(user, `${i} committed`);
      if (i % 2 === 0) assert.equal((await stores.audit.list({ userId: user.id, limit: 5 })).length, 1);
    }
  }
});

test('transactions begun together: one failing on the database\'s own error is rolled back alone, the others commit', async (t) => {
  const { stores } = await openTestStores(t);
  await stores.users.create(newUser('taken'));
  // Begun in one turn of the event loop (on SQLite: one group, each body in a savepoint).
  const work = Array.from({ length: 6 }, (_, i) =>
    stores.transaction(async (tx) => {
      const user = await tx.users.create(newUser(`together${i}`));
      await tx.audit.append({ at: new Date(), type: 'registered', userId: user.id, ip: null, userAgent: null, detail: null });
      if (i === 2) await tx.users.create(newUser('taken')); // unique violation, after two writes
      if (i === 4) throw new Error('body 4 fails');
      return user.id;
    }),
  );
  const results = await Promise.allSettled(work);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
  );
  assert.equal((results[2] as PromiseRejectedResult).reason.name, 'DuplicateError');
  for (const i of [0, 1, 3, 5]) {
    const user = await stores.users.findByLogin(`together${i}`);
    assert.ok(user, `together${i} committed`);
    assert.equal((await stores.audit.list({ userId: user.id, limit: 5 })).length, 1, `together${i}'s audit event committed`);
  }
  for (const i of [2, 4]) assert.equal(await stores.users.findByLogin(`together${i}`), undefined, `together${i} rolled back`);
  assert.equal((await stores.audit.list({ type: 'registered', limit: 20 })).length, 4, 'only the committed bodies\' audit events');
});

test('SQLite: a body that uses the outer stores instead of tx fails (503-typed) and rolls back, never hangs', { skip: DIALECT !== 'sqlite' && 'SQLite only: on PostgreSQL the outer stores use another pooled connection' }, async (t) => {
  const { stores } = await openTestStores(t);
  const started = Date.now();
  await assert.rejects(
    stores.transaction(async (tx) => {
      await tx.users.create(newUser('misused'));
      await stores.users.findByLogin('misused'); // waits for the transaction it is in
    }),
    StorageUnavailableError,
  );
  assert.ok(Date.now() - started < 30_000);
  assert.equal(await stores.users.findByLogin('misused'), undefined);
  // The connection is free again.
  await stores.transaction((tx) => tx.users.create(newUser('after')));
});
