// The passkey library and TypeBox's value module are imported at first use, not at
// start-up: evaluated at start-up they made every request dearer (GET /healthz +10-15 % of
// CPU: process.nextTick's tick object leaves V8's fast path), imported after start-up they
// do not (docs/performance.md, "Before and after", 2026-12-01). Nothing but the benchmark
// would notice if one came back into the start-up graph, so this test watches what a real
// `gatehouse serve` process resolves.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { newCredential, registrationResponse } from '../../bench/soft-authenticator.mjs';
import { eventually, freePort, spawnServer, waitHealthy } from '../helpers/processes.js';

const PASSKEY_LIBRARY = /\/node_modules\/@simplewebauthn\/server\//;
// typebox/value's entry (the schemas use typebox's type builders and compiler, which do not
// import it).
const TYPEBOX_VALUE = /\/node_modules\/typebox\/build\/value\/index\.mjs$/;
// Loaded only when configured: the PostgreSQL driver, Redis and mail.
const ONLY_WHEN_CONFIGURED = /\/node_modules\/(pg|ioredis|nodemailer)\//;

test('a server on the default SQLite loads neither the passkey library nor typebox/value until a ceremony needs them', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-lazy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'modules.log');
  const port = await freePort();
  const server = spawnServer(
    { DATABASE_URL: `file:${path.join(dir, 'db.sqlite')}`, MODULE_LOG: log, WEBAUTHN_RP_ID: 'localhost', WEBAUTHN_ORIGINS: `http://localhost:${port}` },
    port,
    ['--import', './test/helpers/module-log.mjs'],
  );
  t.after(() => server.stop());
  await waitHealthy(server);
  const modules = () => readFileSync(log, 'utf8').trim().split('\n');

  // Requests that touch the schemas, the stores and the tokens, but no passkey.
  const register = await fetch(`${server.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'lazy', email: 'lazy@example.com', password: 'Lazy-loading-1' }),
  });
  assert.equal(register.status, 200);
  const loaded = modules();
  // The log sees the server's own modules and its schema library (it works).
  assert.ok(loaded.some((m) => m.endsWith('/src/http/routes/oidc.ts')), 'oidc routes loaded');
  assert.ok(loaded.some((m) => /\/node_modules\/typebox\//.test(m)), 'typebox loaded for the schemas');
  assert.deepEqual(loaded.filter((m) => PASSKEY_LIBRARY.test(m)), [], 'passkey library not loaded at start-up');
  assert.deepEqual(loaded.filter((m) => TYPEBOX_VALUE.test(m)), [], 'typebox/value not loaded at start-up');
  assert.deepEqual(loaded.filter((m) => ONLY_WHEN_CONFIGURED.test(m)), [], 'no PostgreSQL, Redis or mail module without their settings');

  // The first passkey ceremony loads the library (so the pattern above does match it).
  const options = await fetch(`${server.url}/webauthn/login/options`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const body = await options.text();
  assert.equal(options.status, 200, body);
  assert.equal((JSON.parse(body) as { rpId: string }).rpId, 'localhost');
  assert.ok(modules().some((m) => PASSKEY_LIBRARY.test(m)), 'the passkey library is loaded by the first ceremony');
});

// A lazy import can fail where a start-up one would have stopped the server: a process out
// of file descriptors, a package replaced under a running server. Such a failure must read as
// the server's fault (500, nothing spent), not as the user's passkey refused, and the next
// request must try the import again rather than fail until a restart. The ceremony starts on
// one process and finishes on another, as behind a load balancer or across a restart, so the
// first use of the library in the second process is the verification itself.
test('a failed import of the passkey library is a 500 that spends nothing, and the next request loads it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-lazy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const origin = 'http://localhost:8443';
  // One issuer for both processes, so the first one's access token is good on the second.
  const env = { DATABASE_URL: `file:${path.join(dir, 'db.sqlite')}`, PUBLIC_URL: origin, WEBAUTHN_RP_ID: 'localhost', WEBAUTHN_ORIGINS: origin };
  const call = async (url: string, route: string, body: unknown, token?: string) => {
    const res = await fetch(`${url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  const first = spawnServer(env, await freePort());
  t.after(() => first.stop());
  await waitHealthy(first);
  const account = { username: 'passkeyuser', email: 'passkey@example.com', password: 'Lazy-loading-1' };
  assert.equal((await call(first.url, '/register', account)).status, 200);
  const login = await call(first.url, '/login', { username: account.username, password: account.password });
  assert.equal(login.status, 200, login.text);
  const token = (JSON.parse(login.text) as { access_token: string }).access_token;
  const options = await call(first.url, '/webauthn/register/options', { password: account.password }, token);
  assert.equal(options.status, 200, options.text);
  const response = registrationResponse(newCredential('localhost', origin), JSON.parse(options.text) as { challenge: string; user: { id: string } });
  await first.stop();

  const second = spawnServer({ ...env, FAIL_IMPORT: '@simplewebauthn/server' }, await freePort(), ['--import', './test/helpers/fail-import.mjs']);
  t.after(() => second.stop());
  await waitHealthy(second);
  const failed = await call(second.url, '/webauthn/register', { response, name: 'Laptop' }, token);
  assert.equal(failed.status, 500, failed.text);
  assert.equal(failed.type, 'application/problem+json; charset=utf-8');
  assert.doesNotMatch(failed.text, /EMFILE|simplewebauthn|at .*\.ts/, 'the cause stays in the log');
  // The log line is written asynchronously: it may arrive after the response.
  await eventually(async () => /EMFILE/.test(second.output()), 10_000, 'the cause is logged');

  // The same response again: the challenge was not spent, and the library loads this time.
  const registered = await call(second.url, '/webauthn/register', { response, name: 'Laptop' }, token);
  assert.equal(registered.status, 201, registered.text);
  assert.ok((JSON.parse(registered.text) as { factor_id?: string }).factor_id);
});
