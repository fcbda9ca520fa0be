/**
 * Driver failures are typed where they happen: a database or Redis being away surfaces as
 * StorageUnavailableError (a 503 above), whatever the driver's words.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageUnavailableError, isDependencyUnavailable } from '../../src/errors/unavailable.js';
import { openPg } from '../../src/storage/drizzle/pg/connection.js';
import { translatePgError } from '../../src/storage/drizzle/pg/errors.js';
import { connectRedis, closeRedis } from '../../src/storage/redis/client.js';
import { RedisAttemptLimiter } from '../../src/storage/rate-limit/redis.js';
import { DIALECT, TEST_POSTGRES_URL } from '../helpers/app.js';
import { openTestStores } from '../helpers/stores.js';

test('the database closed or unreachable: StorageUnavailableError from every kind of store call', async (t) => {
  const { stores } = await openTestStores(t);
  await stores.close();
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['read', () => stores.users.findByLogin('x')],
    ['write', () => stores.revokedTokens.revoke('j', new Date(Date.now() + 1000))],
    ['hot path', () => stores.sessions.findLiveSessionUser('s', 'j', new Date())],
    ['transaction', () => stores.transaction((tx) => tx.users.findById(1))],
    ['ping', () => stores.ping()],
  ];
  for (const [what, call] of calls) {
    await assert.rejects(call(), (error: unknown) => {
      assert.ok(error instanceof StorageUnavailableError, `${what}: ${String(error)}`);
      assert.equal(error.dependency, 'database');
      return true;
    });
  }
});

test('PostgreSQL refusing connections is StorageUnavailableError', { skip: DIALECT !== 'postgres' && 'PostgreSQL run only' }, async () => {
  const { createPgStores } = await import('../../src/storage/drizzle/pg/index.js');
  const url = new URL(TEST_POSTGRES_URL);
  url.port = '1'; // nothing listens there
  await assert.rejects(createPgStores(url.toString(), 1), StorageUnavailableError);
});

test('a unique violation is not an outage; a programming error stays what it is', async (t) => {
  const { stores } = await openTestStores(t);
  const user = { username: 'u', usernameKey: 'u', email: 'u@x', emailKey: 'u@x', passwordHash: 'h', createdAt: new Date() };
  await stores.users.create(user);
  await assert.rejects(stores.users.create(user), { name: 'DuplicateError' });
  const bug = new TypeError('x is undefined');
  assert.equal(isDependencyUnavailable(bug), false);
  assert.equal(isDependencyUnavailable(new Error('wrapped', { cause: new StorageUnavailableError('redis', { cause: bug }) })), true);
});

test('Redis away: the attempt limiter fails with StorageUnavailableError', async (t) => {
  // A port nothing listens on: ioredis never connects, the limiter is refused at once.
  const redis = await connectRedis('redis://127.0.0.1:1', { waitMs: 200 });
  t.after(() => closeRedis(redis));
  const limiter = new RedisAttemptLimiter(redis, 5, 60, 'ghtest:errors:');
  for (const call of [() => limiter.take('k'), () => limiter.giveBack('k'), () => limiter.reset('k')]) {
    await assert.rejects(call(), (error: unknown) => error instanceof StorageUnavailableError && error.dependency === 'redis');
  }
});

test('PostgreSQL with a pool of one connection starts and serves (the migration has a client of its own)', { skip: DIALECT !== 'postgres' && 'PostgreSQL run only' }, async (t) => {
  const { stores } = await openTestStores(t, { poolSize: 1 });
  await stores.users.create({ username: 'solo', usernameKey: 'solo', email: 's@x', emailKey: 's@x', passwordHash: 'h', createdAt: new Date() });
  assert.equal((await stores.users.findByLogin('solo'))?.username, 'solo');
  await stores.transaction((tx) => tx.users.updatePasswordHash(1, 'h2'));
});

// The pool's statement_timeout (10 s) and its client-side read timeout race; whichever
// ends a query first, the request is a 503, as while a migration holds the sessions table.
test('PostgreSQL cancelling a statement at its statement_timeout is StorageUnavailableError', { skip: DIALECT !== 'postgres' && 'PostgreSQL run only' }, async (t) => {
  const conn = openPg(TEST_POSTGRES_URL, 1);
  const client = await conn.pool.connect();
  t.after(async () => {
    client.release(true);
    await conn.pool.end();
  });
  await client.query('SET statement_timeout = 100');
  const error: unknown = await client.query('SELECT pg_sleep(2)').then(() => undefined, (e: unknown) => e);
  assert.equal((error as { code?: string } | undefined)?.code, '57014', String(error));
  const translated = translatePgError(error);
  assert.ok(translated instanceof StorageUnavailableError, String(translated));
  assert.equal(translated.dependency, 'database');
});
