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
