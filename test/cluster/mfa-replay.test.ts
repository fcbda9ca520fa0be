/**
 * A TOTP code accepted by one instance is refused by the other: two real `gatehouse
 * serve` processes on one database, with Redis (the shared SET NX guard) and without it
 * (the database's last-step guard).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECT, PASSWORD, databaseUrlFor, redisEnv, redisMissing, sqlRows, tempDir } from '../helpers/app.js';
import { codeAt } from '../helpers/mfa.js';
import { freePort, spawnServer, waitHealthy } from '../helpers/processes.js';

async function call(base: string, method: string, path: string, options: { body?: unknown; token?: string; ip?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.ip) headers['x-forwarded-for'] = options.ip;
  const res = await fetch(`${base}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Codes are computed on the test's clock: keep clear of a 30 s step boundary while they are used. */
async function clearOfStepBoundary(): Promise<void> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 4_000) await new Promise((r) => setTimeout(r, left + 100));
}

for (const withRedis of [true, false]) {
  const name = `a TOTP code used on one instance is refused on the other (${DIALECT}${withRedis ? ' + Redis' : ', no Redis'})`;
  test(name, { skip: withRedis ? redisMissing : false, timeout: 120_000 }, async (t) => {
    const dir = tempDir(t);
    const env = {
      DATABASE_URL: databaseUrlFor(dir),
      ...(withRedis ? redisEnv() : {}),
      PUBLIC_URL: 'http://gatehouse.test',
      TRUST_PROXY: '127.0.0.1',
    };
    const a = spawnServer(env, await freePort());
    await waitHealthy(a);
    const b = spawnServer(env, await freePort());
    t.after(async () => {
      await Promise.all([a.stop(), b.stop()]);
    });
    await waitHealthy(b);

    await call(a.url, 'POST', '/register', { body: { username: 'alice', email: 'alice@example.com', password: PASSWORD }, ip: '198.51.100.1' });
    const session = await call(a.url, 'POST', '/login', { body: { username: 'alice', password: PASSWORD }, ip: '198.51.100.2' });
    const start = await call(a.url, 'POST', '/mfa/totp', { token: session.body.access_token, body: { password: PASSWORD } });
    assert.equal(start.status, 201, JSON.stringify(start.body));
    await clearOfStepBoundary();
    // Activate with the previous step's code (accepted, one step back) so the current one is fresh.
    const activate = await call(b.url, 'POST', '/mfa/totp/activate', {
      token: session.body.access_token,
      body: { factor_id: start.body.factor_id, code: codeAt(start.body.secret, Date.now() - 30_000) },
    });
    assert.equal(activate.status, 200, JSON.stringify(activate.body));

    const code = codeAt(start.body.secret, Date.now());
    const first = await call(a.url, 'POST', '/login', { body: { username: 'alice', password: PASSWORD }, ip: '198.51.100.3' });
    assert.equal(first.status, 403);
    const onA = await call(a.url, 'POST', '/login/mfa', { body: { mfa_token: first.body.mfa_token, code }, ip: '198.51.100.3' });
    assert.equal(onA.status, 200, JSON.stringify(onA.body));

    const second = await call(b.url, 'POST', '/login', { body: { username: 'alice', password: PASSWORD }, ip: '198.51.100.4' });
    const replay = await call(b.url, 'POST', '/login/mfa', { body: { mfa_token: second.body.mfa_token, code }, ip: '198.51.100.4' });
    assert.equal(replay.status, 401, 'the same code on the other instance');
    assert.equal(replay.body.code, 'invalid_mfa_code');
    // And on the instance that accepted it.
    const replayA = await call(a.url, 'POST', '/login/mfa', { body: { mfa_token: second.body.mfa_token, code }, ip: '198.51.100.4' });
    assert.equal(replayA.status, 401);
    // Which guard refused: with Redis the database keeps no step, without it the last one.
    const [factor] = await sqlRows<{ last_step: number | null }>(dir, 'SELECT last_step FROM mfa_factors');
    assert.equal(factor!.last_step === null, withRedis);
  });
}
