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
import { freePort, spawnServer, waitHealthy } from '../helpers/processes.js';

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
