/**
 * @gatehouse/client's passkey calls in Debian's Chromium (playwright-core) with the DevTools
 * virtual authenticator. The app page, the SDK (compiled by the test) and Gatehouse are
 * served same-origin by a small proxy, opened as http://localhost:<port> (browsers refuse
 * WebAuthn on a bare IP). Everything goes through the SDK: registerPasskey for a signed-in
 * user, then loginWithPasskey with no username, then login -> mfaRequired ->
 * loginWithPasskey({ mfaToken }); the tokens land as for any login (storage, the other
 * tabs, cookie mode), and the device token of a passkey login is presented next time.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PASSWORD, buildTestApp, register, sqlRows, type TestApp } from '../helpers/app.js';
import { ROOT } from '../helpers/processes.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;
const AUTHENTICATOR = { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true } as const;

const PAGE = `<!doctype html><meta charset="utf-8"><title>app</title>
<script type="module">
import { createClient } from '/sdk/index.js';
window.sdk = { client: undefined, changes: [] };
window.makeClient = (options) => {
  sdk.client = createClient({ baseUrl: '', ...options });
  sdk.client.onChange((signedIn) => sdk.changes.push(signedIn));
  return sdk.client.signedIn;
};
window.claims = async () => {
  const token = await sdk.client.accessToken();
  return token && JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
};
window.ready = true;
</script>`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the page's globals, read field by field
type Page$ = any;

/** Compiles the client (its own tsconfig) into a temp dir, as the browser will load it. */
async function buildClient(t: TestContext): Promise<string> {
  const out = mkdtempSync(path.join(tmpdir(), 'gatehouse-sdk-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'packages/client/tsconfig.json', '--outDir', out], { cwd: ROOT });
  return out;
}

/**
 * The app's origin: serves the page and the SDK, passes everything else to Gatehouse.
 * Listening first, so Gatehouse can be told the origin (WEBAUTHN_ORIGINS).
 */
async function site(t: TestContext, sdkDir: string) {
  let target: URL | undefined;
  const server = http.createServer((req, res) => {
    if (req.url === '/app') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    if (req.url?.startsWith('/sdk/')) {
      const file = path.join(sdkDir, path.basename(req.url));
      if (!existsSync(file)) return res.writeHead(404).end();
      return res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
    }
    const upstream = http.request({ host: target!.hostname, port: target!.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // after hooks run in the order they were added, so the browser is still open here: a
  // connection it keeps (in flight or idle) must not hold close() until it goes (seen: 11 min).
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { origin: `http://localhost:${(server.address() as AddressInfo).port}`, proxyTo: (url: string) => (target = new URL(url)) };
}

async function setup(t: TestContext, env: Record<string, string> = {}) {
  const { origin, proxyTo } = await site(t, await buildClient(t));
  const app = await buildTestApp(t, { WEBAUTHN_RP_ID: 'localhost', WEBAUTHN_ORIGINS: origin, RATE_LIMIT_LOGIN_PER_MINUTE: '1000', LOG_LEVEL: 'warn', ...env });
  await register(app, { username: 'kit' });
  proxyTo(await app.app.listen({ host: '127.0.0.1', port: 0 }));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const context = await browser.newContext();
  return { app, origin, context };
}

async function tab(context: BrowserContext, origin: string, authenticator = false): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}/app`);
  await page.waitForFunction(() => (globalThis as Page$).ready === true);
  if (authenticator) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', { options: AUTHENTICATOR });
  }
  return page;
}

async function lastLoginFailure(app: TestApp): Promise<Record<string, unknown>> {
  const [row] = await sqlRows<{ detail: string }>(app.dir, "SELECT detail FROM security_events WHERE type = 'login_failed' ORDER BY id DESC LIMIT 1");
  return JSON.parse(row!.detail) as Record<string, unknown>;
}

test('SDK passkeys (local storage, two tabs): register, log in with no username, and as the second step after a password', { skip: missing, timeout: 180_000 }, async (t) => {
  const { app, origin, context } = await setup(t);
  const a = await tab(context, origin, true);
  const b = await tab(context, origin);
  for (const page of [a, b]) await page.evaluate(() => (globalThis as Page$).makeClient({ storage: 'local' }));
  // WebAuthn needs the focused tab.
  await a.bringToFront();

  // A signed-in user registers a passkey (the password re-entered).
  assert.deepEqual(await a.evaluate((pw) => (globalThis as Page$).sdk.client.login({ username: 'kit', password: pw }), PASSWORD), { mfaRequired: false });
  const registered = await a.evaluate((pw) => (globalThis as Page$).sdk.client.registerPasskey({ password: pw, name: 'Laptop' }), PASSWORD);
  assert.equal(typeof registered.factor_id, 'string');
  assert.equal(registered.recovery_codes.length, 10, 'the first factor brings the recovery codes');
  const [factor] = await sqlRows<{ type: string; name: string }>(app.dir, 'SELECT type, name FROM mfa_factors');
  assert.deepEqual({ ...factor }, { type: 'webauthn', name: 'Laptop' });

  await a.evaluate(() => (globalThis as Page$).sdk.client.logout());
  await b.waitForFunction(() => (globalThis as Page$).sdk.client.signedIn === false);

  // Username-less: a discoverable passkey, the user verified; the tokens land in storage and in the other tab.
  await a.evaluate(() => (globalThis as Page$).sdk.client.loginWithPasskey());
  const claims = await a.evaluate(() => (globalThis as Page$).claims());
  assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);
  assert.equal((await a.evaluate(() => (globalThis as Page$).sdk.client.me())).username, 'kit');
  const stored = await a.evaluate(() => JSON.parse((globalThis as Page$).localStorage.getItem('gatehouse')!));
  assert.match(stored.refreshToken, /^ghr_/);
  await b.waitForFunction(() => (globalThis as Page$).sdk.client.signedIn === true);
  assert.equal(await b.evaluate(() => (globalThis as Page$).sdk.client.accessToken()), await a.evaluate(() => (globalThis as Page$).sdk.client.accessToken()));
  assert.deepEqual(await b.evaluate(() => (globalThis as Page$).sdk.changes), [true, false, true]);
  // The passkey login's device token is kept (local mode: beside the tokens) and presented at the next login.
  assert.ok(await a.evaluate(() => (globalThis as Page$).localStorage.getItem('gatehouse:device')));
  await a.evaluate(() => (globalThis as Page$).sdk.client.logout());
  const wrong = await a.evaluate(() => (globalThis as Page$).sdk.client.login({ username: 'kit', password: 'not the password' }).then(() => 'signed in', (e: Page$) => e.status));
  assert.equal(wrong, 401);
  assert.deepEqual(await lastLoginFailure(app), { reason: 'wrong_password', known_device: true });

  // Password, then the passkey as the second step.
  const first = await a.evaluate((pw) => (globalThis as Page$).sdk.client.login({ username: 'kit', password: pw }), PASSWORD);
  assert.equal(first.mfaRequired, true);
  assert.deepEqual(first.factors, ['webauthn', 'recovery_code']);
  assert.equal(await a.evaluate(() => (globalThis as Page$).sdk.client.signedIn), false);
  await a.evaluate((mfaToken) => (globalThis as Page$).sdk.client.loginWithPasskey({ mfaToken }), first.mfaToken);
  assert.deepEqual((await a.evaluate(() => (globalThis as Page$).claims())).amr, ['pwd', 'hwk', 'user', 'mfa']);
  await b.waitForFunction(() => (globalThis as Page$).sdk.client.signedIn === true);
  // The mfa_token is spent: the same second step again is refused, and the client stays as it was.
  const again = await a.evaluate((mfaToken) => (globalThis as Page$).sdk.client.loginWithPasskey({ mfaToken }).then(() => 'ok', (e: Page$) => [e.name, e.status, e.code]), first.mfaToken);
  assert.deepEqual(again, ['GatehouseError', 401, 'invalid_mfa_token']);

  // The app aborts a ceremony (no authenticator in this context answers): the browser's AbortError, nobody signed in.
  const other = await (await context.browser()!.newContext()).newPage();
  await other.goto(`${origin}/app`);
  await other.waitForFunction(() => (globalThis as Page$).ready === true);
  const cancelled = await other.evaluate(async () => {
    const w = globalThis as Page$;
    w.makeClient({ storage: 'memory', key: 'other' });
    const controller = new AbortController();
    const login = w.sdk.client.loginWithPasskey({ signal: controller.signal }).then(() => 'signed in', (e: Page$) => e.name);
    setTimeout(() => controller.abort(), 500);
    return [await login, w.sdk.client.signedIn];
  });
  assert.deepEqual(cancelled, ['AbortError', false]);
});

test('SDK passkeys in cookie mode: the refresh token arrives as the HttpOnly cookie and survives a reload', { skip: missing, timeout: 180_000 }, async (t) => {
  const { app, origin, context } = await setup(t, { REFRESH_TOKEN_COOKIE: 'true' });
  const page = await tab(context, origin, true);
  await page.evaluate(() => (globalThis as Page$).makeClient({ storage: 'cookie' }));
  await page.evaluate((pw) => (globalThis as Page$).sdk.client.login({ username: 'kit', password: pw }), PASSWORD);
  const registered = await page.evaluate((pw) => (globalThis as Page$).sdk.client.registerPasskey({ password: pw }), PASSWORD);
  assert.equal(registered.recovery_codes.length, 10);
  await page.evaluate(() => (globalThis as Page$).sdk.client.logout());

  await page.evaluate(() => (globalThis as Page$).sdk.client.loginWithPasskey());
  assert.deepEqual((await page.evaluate(() => (globalThis as Page$).claims())).amr, ['hwk', 'user', 'mfa']);
  const cookies = await context.cookies();
  const refresh = cookies.find((c) => c.name === 'gatehouse_refresh');
  assert.ok(refresh?.httpOnly && refresh.path === '/refresh', JSON.stringify(cookies));
  assert.ok(cookies.find((c) => c.name === 'gatehouse_device')?.httpOnly, 'the device token as its HttpOnly cookie');
  // Cookie mode keeps no token in JavaScript-readable storage, the device token included.
  assert.equal(await page.evaluate(() => (globalThis as Page$).localStorage.length), 0);

  // A reload: the access token (memory) is gone; restore() gets one from the refresh cookie.
  await page.reload();
  await page.waitForFunction(() => (globalThis as Page$).ready === true);
  assert.equal(await page.evaluate(() => (globalThis as Page$).makeClient({ storage: 'cookie' })), false);
  assert.equal(await page.evaluate(() => (globalThis as Page$).sdk.client.restore()), true);
  assert.equal((await page.evaluate(() => (globalThis as Page$).sdk.client.me())).username, 'kit');

  // The device cookie is what the next login presents in this mode.
  await page.evaluate(() => (globalThis as Page$).sdk.client.logout());
  const wrong = await page.evaluate(() => (globalThis as Page$).sdk.client.login({ username: 'kit', password: 'not the password' }).then(() => 'signed in', (e: Page$) => e.status));
  assert.equal(wrong, 401);
  assert.deepEqual(await lastLoginFailure(app), { reason: 'wrong_password', known_device: true });

  // Password, then the passkey, in cookie mode too.
  const first = await page.evaluate((pw) => (globalThis as Page$).sdk.client.login({ username: 'kit', password: pw }), PASSWORD);
  assert.equal(first.mfaRequired, true);
  await page.evaluate((mfaToken) => (globalThis as Page$).sdk.client.loginWithPasskey({ mfaToken }), first.mfaToken);
  assert.deepEqual((await page.evaluate(() => (globalThis as Page$).claims())).amr, ['pwd', 'hwk', 'user', 'mfa']);
  await page.reload();
  await page.waitForFunction(() => (globalThis as Page$).ready === true);
  await page.evaluate(() => (globalThis as Page$).makeClient({ storage: 'cookie' }));
  assert.equal(await page.evaluate(() => (globalThis as Page$).sdk.client.restore()), true);
});
