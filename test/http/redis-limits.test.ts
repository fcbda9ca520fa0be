/** Rate limits and lockouts kept in the machine's real Redis, shared by app instances. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { PASSWORD, buildTestApp, freshIp, login, me, redisEnv, redisMissing, register } from '../helpers/app.js';

const skip = redisMissing;

test('per-IP login limit is shared by two instances on one Redis', { skip }, async (t) => {
  const env = redisEnv();
  const a = await buildTestApp(t, env);
  const b = await buildTestApp(t, env, { dir: a.dir });
  await register(a, { username: 'alice' });
  const ip = '192.0.2.77';
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const app = i % 2 === 0 ? a : b;
    const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: PASSWORD }, remoteAddress: ip });
    statuses.push(res.statusCode);
    if (res.statusCode === 200) assert.equal(res.headers['ratelimit-remaining'], String(4 - i));
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
});

test('account lockout counted across instances and IPs in Redis', { skip }, async (t) => {
  const env = redisEnv();
  const a = await buildTestApp(t, env);
  const b = await buildTestApp(t, env, { dir: a.dir });
  await register(a, { username: 'bob' });
  for (let i = 0; i < 10; i++) {
    const app = i % 2 === 0 ? a : b;
    const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: 'Wrong1234' }, remoteAddress: `203.0.113.${i}` });
    assert.equal(res.statusCode, 401);
  }
  const locked = await b.app.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: PASSWORD }, remoteAddress: freshIp() });
  assert.equal(locked.statusCode, 429);
  assert.equal(locked.json().code, 'account_locked');
  assert.ok(Number(locked.headers['retry-after']) > 0);
  // A successful login elsewhere resets nothing for bob while locked, and other accounts are free.
  await register(a, { username: 'carol' });
  await login(b, 'carol');
});

async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('Redis away: limited routes fail closed with 503, token checks keep working, /readyz says which', { skip }, async (t) => {
  const healthy = await buildTestApp(t);
  await register(healthy, { username: 'dave' });
  const tokens = await login(healthy, 'dave');
  await healthy.app.close();

  const port = await deadPort();
  const app = await buildTestApp(t, { REDIS_URL: `redis://127.0.0.1:${port}` }, { dir: healthy.dir });
  const started = Date.now();
  const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'dave', password: PASSWORD }, remoteAddress: freshIp() });
  assert.equal(res.statusCode, 503, res.body);
  assert.equal(res.json().code, 'service_unavailable');
  assert.ok(Date.now() - started < 3000, 'no hang');
  assert.equal((await me(app, tokens.access_token)).statusCode, 200);
  const ready = await app.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 503);
  assert.deepEqual(ready.json().checks, { database: { status: 'ok' }, redis: { status: 'error' } });
  assert.equal((await app.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
});

test('RATE_LIMIT_FAIL_OPEN=true: with Redis away, logins go through unlimited (an explicit weakening)', { skip }, async (t) => {
  const port = await deadPort();
  const app = await buildTestApp(t, { REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_FAIL_OPEN: 'true' });
  await register(app, { username: 'erin' });
  const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'erin', password: PASSWORD }, remoteAddress: freshIp() });
  assert.equal(res.statusCode, 200, res.body);
});
