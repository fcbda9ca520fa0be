/**
 * The revocation feed end to end: two Gatehouse instances on one database (this process,
 * and a `gatehouse serve` process), and a resource server in a third process using
 * @gatehouse/node, subscribed to the *other* instance than the one that logs out.
 * Runs on SQLite and on PostgreSQL (scripts/test.mjs).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { test, type TestContext } from 'node:test';
import { DIALECT, buildTestApp, freshIp, register, type TestApp } from '../helpers/app.js';
import { ROOT, TcpProxy, eventually, freePort, spawnServer, waitHealthy, type ServerProcess } from '../helpers/processes.js';

const PASSWORD = 'CorrectHorse9';

interface Cluster {
  app: TestApp;
  /** Instance A (this process): the issuer, where users log in and out. */
  url: string;
  /** Instance B (another process) behind a proxy the test can cut. */
  b: ServerProcess;
  bPort: number;
  secret: string;
}

async function cluster(t: TestContext): Promise<Cluster> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // One key-encryption key for both instances, as every deployment of several needs: on
  // PostgreSQL each would otherwise seal keys under a key file of its own working directory.
  const env = { PUBLIC_URL: url, RATE_LIMIT_LOGIN_PER_MINUTE: '100000', LOG_LEVEL: 'warn', KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex') };
  const app = await buildTestApp(t, env);
  await app.app.listen({ host: '127.0.0.1', port });
  await register(app, { username: 'feed_user' });
  const { secret } = await app.clients.create({ id: 'orders-api', grantTypes: ['password'], audience: 'gatehouse', confidential: true, now: new Date() });
  const bPort = await freePort();
  const b = spawnServer({ ...env, DATABASE_URL: app.env.DATABASE_URL! }, bPort);
  t.after(() => b.stop());
  await waitHealthy(b, 60_000);
  return { app, url, b, bPort, secret: secret! };
}

async function resourceServer(t: TestContext, env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/resource-server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', RS_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`resource server not ready:\n${out}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', () => reject(new Error(`resource server exited:\n${out}`)));
  });
  return `http://127.0.0.1:${port}`;
}

async function login(c: Cluster): Promise<string> {
  const res = await c.app.app.inject({ method: 'POST', url: '/login', payload: { username: 'feed_user', password: PASSWORD }, remoteAddress: freshIp() });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().access_token;
}

const call = async (rs: string, token: string) => (await fetch(`${rs}/data`, { headers: { authorization: `Bearer ${token}` } })).status;

async function logout(c: Cluster, token: string): Promise<void> {
  const res = await fetch(`${c.url}/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 200);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

test('100 logouts on instance A: each is refused by a resource server following instance B\'s feed', { timeout: 600_000 }, async (t) => {
  const c = await cluster(t);
  const rs = await resourceServer(t, { RS_FEED_URL: c.b.url, RS_ISSUER: c.url, RS_CLIENT_ID: 'orders-api', RS_CLIENT_SECRET: c.secret });
  const delays: number[] = [];
  for (let i = 0; i < 100; i++) {
    const token = await login(c);
    assert.equal(await call(rs, token), 200);
    await logout(c, token);
    const answered = performance.now();
    let status = 200;
    while (status === 200) {
      assert.ok(performance.now() - answered < 10_000, `logout ${i} still accepted after 10 s`);
      status = await call(rs, token);
    }
    delays.push(performance.now() - answered);
    assert.equal(status, 401);
  }
  delays.sort((a, b) => a - b);
  const line = `revocation delay over ${delays.length} logouts (${DIALECT}, logout on A, feed from B): p50 ${percentile(delays, 50).toFixed(0)} ms, p99 ${percentile(delays, 99).toFixed(0)} ms, max ${delays.at(-1)!.toFixed(0)} ms`;
  t.diagnostic(line);
  console.log(line);
});

test('Gatehouse stopped: accepted within the bound, then refused (fail-closed) or introspected; accepted again when it is back', { timeout: 600_000 }, async (t) => {
  const c = await cluster(t);
  // The feed goes through a proxy in front of instance B, so "Gatehouse is away" is one cut.
  const proxy = await new TcpProxy({ host: '127.0.0.1', port: c.bPort }).start();
  t.after(() => proxy.cut());
  const feedUrl = `http://127.0.0.1:${proxy.port}`;
  const common = { RS_FEED_URL: feedUrl, RS_ISSUER: c.url, RS_CLIENT_ID: 'orders-api', RS_CLIENT_SECRET: c.secret, RS_STALE_MS: '5000' };
  const closed = await resourceServer(t, common);
  // Introspection goes to instance A, which stays up.
  const introspecting = await resourceServer(t, { ...common, RS_WHEN_DOWN: 'introspect', RS_INTROSPECTION_URL: `${c.url}/oauth/introspect` });

  const live = await login(c);
  const doomed = await login(c);
  for (const rs of [closed, introspecting]) for (const token of [live, doomed]) assert.equal(await call(rs, token), 200);

  await proxy.cut();
  const cutAt = performance.now();
  // Within the bound the feed's last word stands.
  assert.equal(await call(closed, live), 200);
  assert.ok(performance.now() - cutAt < 4000, 'the check ran within the bound');
  // A logout while the feed is down: the feed cannot say it.
  await logout(c, doomed);

  await eventually(async () => (await call(closed, live)) === 503, 15_000, 'fail-closed refusal after the bound');
  const refusedAfter = performance.now() - cutAt;
  t.diagnostic(`fail-closed from ${refusedAfter.toFixed(0)} ms after the cut (bound 5000 ms)`);
  assert.ok(refusedAfter >= 5000, `refused only after the bound (${refusedAfter} ms)`);
  const refusal = await fetch(`${closed}/data`, { headers: { authorization: `Bearer ${live}` } });
  assert.equal(refusal.status, 503);
  assert.equal(refusal.headers.get('retry-after'), '1');
  assert.equal(((await refusal.json()) as { code: string }).code, 'temporarily_unavailable');
  // The introspecting one asks instance A: the live token passes, the logged-out one does not.
  assert.equal(await call(introspecting, live), 200);
  assert.equal(await call(introspecting, doomed), 401);

  await proxy.restore();
  // Back: the feed reconnects with Last-Event-ID and replays what it missed (the logout).
  await eventually(async () => (await call(closed, live)) === 200, 15_000, 'acceptance after the feed is back');
  assert.equal(await call(closed, doomed), 401);
});
