/**
 * Two real `gatehouse serve` processes sharing one database (PostgreSQL in the PostgreSQL
 * pass, one SQLite file in the SQLite pass) and one Redis, as behind a load balancer.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { DIALECT, PASSWORD, databaseUrlFor, redisEnv, redisMissing, sqlRows, tempDir } from '../helpers/app.js';
import { ROOT, eventually, freePort, spawnServer, waitHealthy } from '../helpers/processes.js';
import { FAST_HASH_ENV, TEST_KEK_ENV } from '../helpers/app.js';

async function call(base: string, method: string, path: string, options: { body?: unknown; token?: string; ip?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.ip) headers['x-forwarded-for'] = options.ip;
  const res = await fetch(`${base}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

test(`two instances on one ${DIALECT} database and one Redis behave as one`, { skip: redisMissing, timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const env = {
    DATABASE_URL: databaseUrlFor(dir),
    ...redisEnv(),
    // Behind a load balancer both instances share the public URL, so `iss` is the same.
    PUBLIC_URL: 'http://gatehouse.test',
    // The test speaks for many clients through X-Forwarded-For from loopback.
    TRUST_PROXY: '127.0.0.1',
    REFRESH_REUSE_GRACE_SECONDS: '0',
  };
  // Both start at the same moment against a database nobody has migrated yet.
  const [portA, portB] = [await freePort(), await freePort()];
  const a = spawnServer(env, portA);
  const b = spawnServer(env, portB);
  t.after(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });
  await Promise.all([waitHealthy(a), waitHealthy(b)]);
  const migrations = await sqlRows(dir, DIALECT === 'postgres' ? 'SELECT hash FROM __drizzle_migrations' : 'SELECT hash FROM "__drizzle_migrations"');
  const journal = JSON.parse(readFileSync(`${ROOT}/migrations/${DIALECT === 'postgres' ? 'pg' : 'sqlite'}/meta/_journal.json`, 'utf8'));
  assert.equal(migrations.length, journal.entries.length, 'each migration applied exactly once');

  // A user registered on A logs in on B.
  const reg = await call(a.url, 'POST', '/register', { body: { username: 'alice', email: 'alice@example.com', password: PASSWORD }, ip: '198.51.100.1' });
  assert.equal(reg.status, 200);
  const onB = await call(b.url, 'POST', '/login', { body: { username: 'alice', password: PASSWORD }, ip: '198.51.100.2' });
  assert.equal(onB.status, 200);
  assert.equal((await call(a.url, 'GET', '/me', { token: onB.body.access_token })).status, 200);

  // Logout on A: the very next request on B with that token is refused.
  const out = await call(a.url, 'POST', '/logout', { token: onB.body.access_token });
  assert.equal(out.status, 200);
  assert.equal((await call(b.url, 'GET', '/me', { token: onB.body.access_token })).status, 401);

  // A refresh token rotated on A is reuse-detected on B, and the family dies everywhere.
  const s = await call(b.url, 'POST', '/login', { body: { username: 'alice', password: PASSWORD }, ip: '198.51.100.3' });
  const rotated = await call(a.url, 'POST', '/refresh', { body: { refresh_token: s.body.refresh_token }, ip: '198.51.100.3' });
  assert.equal(rotated.status, 200);
  await new Promise((r) => setTimeout(r, 20)); // past the (zero) grace window
  assert.equal((await call(b.url, 'POST', '/refresh', { body: { refresh_token: s.body.refresh_token }, ip: '198.51.100.3' })).status, 401);
  assert.equal((await call(a.url, 'POST', '/refresh', { body: { refresh_token: rotated.body.refresh_token }, ip: '198.51.100.3' })).status, 401);
  assert.equal((await call(a.url, 'GET', '/me', { token: rotated.body.access_token })).status, 401);

  // The per-IP login limit counts A and B together.
  const statuses = [];
  for (let i = 0; i < 6; i++) {
    const res = await call(i % 2 === 0 ? a.url : b.url, 'POST', '/login', { body: { username: 'alice', password: PASSWORD }, ip: '198.51.100.50' });
    statuses.push(res.status);
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);

  // A key rotated (by the CLI, against the shared database) is used by A and verified by B.
  const before = await call(a.url, 'POST', '/login', { body: { username: 'alice', password: PASSWORD }, ip: '198.51.100.60' });
  const oldKid = decodeProtectedHeader(before.body.access_token).kid;
  const rotate = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'keys', 'rotate', '--now'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...FAST_HASH_ENV, ...TEST_KEK_ENV, DATABASE_URL: env.DATABASE_URL },
    encoding: 'utf8',
  });
  assert.equal(rotate.status, 0, rotate.stderr);
  let fresh: { access_token: string } | undefined;
  let attempt = 0;
  await eventually(
    async () => {
      attempt++;
      const res = await call(a.url, 'POST', '/login', { body: { username: 'alice', password: PASSWORD }, ip: `198.51.100.${100 + attempt}` });
      if (res.status !== 200) return false;
      fresh = res.body;
      return decodeProtectedHeader(res.body.access_token).kid !== oldKid;
    },
    15_000,
    'instance A to sign with the rotated key',
  );
  assert.equal((await call(b.url, 'GET', '/me', { token: fresh!.access_token })).status, 200, 'B verifies the new kid at once');
  assert.equal((await call(b.url, 'GET', '/me', { token: before.body.access_token })).status, 200, 'old tokens still verify');
  const jwks = await call(b.url, 'GET', '/.well-known/jwks.json');
  assert.equal(jwks.body.keys.length, 2);

  // SIGTERM: both finish and exit cleanly.
  assert.deepEqual(await Promise.all([a.stop(), b.stop()]), [0, 0]);
});
