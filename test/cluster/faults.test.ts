/**
 * Dependencies going away and coming back, against a real server process: Redis (both
 * passes) and PostgreSQL (PostgreSQL pass), each behind a TCP proxy the test can cut.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECT, PASSWORD, TEST_POSTGRES_URL, TEST_REDIS_URL, databaseUrlFor, redisMissing, tempDir } from '../helpers/app.js';
import { TcpProxy, eventually, freePort, spawnServer, waitHealthy } from '../helpers/processes.js';

async function call(base: string, method: string, path: string, options: { body?: unknown; token?: string; ip?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.ip) headers['x-forwarded-for'] = options.ip;
  const started = Date.now();
  const res = await fetch(`${base}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  return { status: res.status, ms: Date.now() - started, body: text ? JSON.parse(text) : undefined };
}

function viaProxy(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

test(`Redis${DIALECT === 'postgres' ? ' and PostgreSQL' : ''} going away: 503s, /healthz stays up, service resumes, nothing acknowledged is lost`, { skip: redisMissing, timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const redisTarget = new URL(TEST_REDIS_URL);
  const redisProxy = await new TcpProxy({ host: redisTarget.hostname, port: Number(redisTarget.port || 6379) }).start();
  t.after(() => redisProxy.cut());
  let databaseUrl = databaseUrlFor(dir);
  let pgProxy: TcpProxy | undefined;
  if (DIALECT === 'postgres') {
    const pgTarget = new URL(TEST_POSTGRES_URL);
    pgProxy = await new TcpProxy({ host: pgTarget.hostname, port: Number(pgTarget.port || 5432) }).start();
    t.after(() => pgProxy!.cut());
    databaseUrl = viaProxy(databaseUrl, pgProxy.port);
  }
  const server = spawnServer(
    {
      DATABASE_URL: databaseUrl,
      REDIS_URL: viaProxy(TEST_REDIS_URL, redisProxy.port),
      REDIS_KEY_PREFIX: `ghfault:${process.pid}:${Date.now()}:`,
      TRUST_PROXY: '127.0.0.1',
    },
    await freePort(),
  );
  t.after(() => server.stop());
  await waitHealthy(server);
  const base = server.url;

  const registered = await call(base, 'POST', '/register', { body: { username: 'acked', email: 'acked@example.com', password: PASSWORD }, ip: '198.51.100.1' });
  assert.equal(registered.status, 200, 'an acknowledged registration');
  const tokens = (await call(base, 'POST', '/login', { body: { username: 'acked', password: PASSWORD }, ip: '198.51.100.2' })).body;

  // Redis goes away: limited routes fail closed, fast; token checks need only the database.
  await redisProxy.cut();
  const login = await call(base, 'POST', '/login', { body: { username: 'acked', password: PASSWORD }, ip: '198.51.100.3' });
  assert.equal(login.status, 503);
  assert.equal(login.body.code, 'service_unavailable');
  assert.ok(login.ms < 5_000, `answered in ${login.ms} ms`);
  assert.equal((await call(base, 'GET', '/me', { token: tokens.access_token })).status, 200);
  assert.equal((await call(base, 'GET', '/healthz')).status, 200);
  const notReady = await call(base, 'GET', '/readyz');
  assert.equal(notReady.status, 503);
  assert.equal(notReady.body.checks.redis.status, 'error');
  assert.equal(notReady.body.checks.database.status, 'ok');

  // Redis returns: the instance recovers by itself.
  await redisProxy.restore();
  await eventually(async () => (await call(base, 'GET', '/readyz')).status === 200, 15_000, 'readiness after Redis returns');
  assert.equal((await call(base, 'POST', '/login', { body: { username: 'acked', password: PASSWORD }, ip: '198.51.100.4' })).status, 200);

  if (pgProxy) {
    // PostgreSQL goes away: everything that needs it answers 503 quickly; liveness stays.
    await pgProxy.cut();
    const me = await call(base, 'GET', '/me', { token: tokens.access_token });
    assert.equal(me.status, 503);
    assert.ok(me.ms < 10_000, `answered in ${me.ms} ms`);
    const lost = await call(base, 'POST', '/register', { body: { username: 'during', email: 'during@example.com', password: PASSWORD }, ip: '198.51.100.5' });
    assert.equal(lost.status, 503, 'not acknowledged while the database is away');
    assert.equal((await call(base, 'GET', '/healthz')).status, 200);
    const dbDown = await call(base, 'GET', '/readyz');
    assert.equal(dbDown.status, 503);
    assert.equal(dbDown.body.checks.database.status, 'error');

    await pgProxy.restore();
    await eventually(async () => (await call(base, 'GET', '/readyz')).status === 200, 20_000, 'readiness after PostgreSQL returns');
    assert.equal((await call(base, 'GET', '/me', { token: tokens.access_token })).status, 200);
    assert.equal((await call(base, 'POST', '/login', { body: { username: 'acked', password: PASSWORD }, ip: '198.51.100.6' })).status, 200, 'the acknowledged registration survived');
    assert.equal((await call(base, 'POST', '/register', { body: { username: 'after', email: 'after@example.com', password: PASSWORD }, ip: '198.51.100.7' })).status, 200);
  }
  assert.equal(server.child.exitCode, null, 'the process never crashed');
  assert.equal(await server.stop(), 0);
  assert.doesNotMatch(server.output(), /password_hash|\$argon2id\$/);
});
