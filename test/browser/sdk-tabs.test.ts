/**
 * @gatehouse/client in Debian's Chromium (playwright-core): 5 tabs of one app, each firing
 * 20 concurrent API calls per round across several access-token expiries (4 s tokens).
 * With the SDK's lock: every call succeeds, exactly one refresh per expiry reaches the
 * server, no reuse, no tab signed out. Without it: the same outcome, thanks to the
 * server's grace window (the extra refreshes are answered as replays).
 * The app is served same-origin with Gatehouse by a small proxy that counts /refresh.
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
import { chromium, type Page } from 'playwright-core';
import { PASSWORD, buildTestApp, register, sqlRows, type TestApp } from '../helpers/app.js';
import { ROOT } from '../helpers/processes.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;
const TABS = 5;
const CALLS = 20;
const TOKEN_SECONDS = 4;
const RUN_MS = 13_000; // three expiries at least

const PAGE = `<!doctype html><meta charset="utf-8"><title>app</title>
<script type="module">
import { createClient } from '/sdk/index.js';
window.tab = { signedOut: 0, statuses: {}, tokens: new Set(), client: undefined };
window.makeClient = (options) => {
  tab.client = createClient({ baseUrl: '', ...options, onSignOut: () => tab.signedOut++ });
  return tab.client.signedIn;
};
window.work = async (calls, runMs) => {
  const end = Date.now() + runMs;
  // Time decides how many expiries are crossed; at least 3 rounds however slow the machine is.
  for (let round = 0; Date.now() < end || round < 3; round++) {
    const answers = await Promise.all(Array.from({ length: calls }, async () => {
      try {
        const res = await tab.client.fetch('/me');
        return res.status;
      } catch (e) {
        return 'network: ' + e.message;
      }
    }));
    for (const a of answers) tab.statuses[a] = (tab.statuses[a] ?? 0) + 1;
    tab.tokens.add(await tab.client.accessToken());
    await new Promise((r) => setTimeout(r, 300));
  }
  return { statuses: tab.statuses, signedOut: tab.signedOut, signedIn: tab.client.signedIn, tokens: [...tab.tokens] };
};
window.ready = true;
</script>`;

/** Compiles the client (its own tsconfig) into a temp dir, as the browser will load it. */
async function buildClient(t: TestContext): Promise<string> {
  const out = mkdtempSync(path.join(tmpdir(), 'gatehouse-sdk-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'packages/client/tsconfig.json', '--outDir', out], { cwd: ROOT });
  return out;
}

/** Serves the app and the SDK, and passes everything else to Gatehouse, counting refreshes. */
async function appServer(t: TestContext, gatehouse: string, sdkDir: string) {
  const counts = { refresh: 0 };
  const target = new URL(gatehouse);
  const server = http.createServer((req, res) => {
    if (req.url === '/app') {
      res.setHeader('content-type', 'text/html');
      return res.end(PAGE);
    }
    if (req.url?.startsWith('/sdk/')) {
      const file = path.join(sdkDir, path.basename(req.url));
      if (!existsSync(file)) {
        res.statusCode = 404;
        return res.end();
      }
      res.setHeader('content-type', 'text/javascript');
      return res.end(readFileSync(file));
    }
    if (req.method === 'POST' && req.url === '/refresh') counts.refresh++;
    const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
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
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, counts };
}

async function refreshMetric(app: TestApp, result: string): Promise<number> {
  return (await app.metrics.registry.getSingleMetric('gatehouse_refreshes_total')!.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

async function setup(t: TestContext) {
  const app = await buildTestApp(t, {
    ACCESS_TOKEN_EXPIRE_MINUTES: String(TOKEN_SECONDS / 60),
    RATE_LIMIT_REFRESH_PER_MINUTE: '10000',
    RATE_LIMIT_LOGIN_PER_MINUTE: '100',
    LOG_LEVEL: 'warn',
  });
  await register(app, { username: 'tab_user' });
  const gatehouse = await app.app.listen({ host: '127.0.0.1', port: 0 });
  const site = await appServer(t, gatehouse, await buildClient(t));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const context = await browser.newContext();
  const pages: Page[] = [];
  for (let i = 0; i < TABS; i++) {
    const page = await context.newPage();
    await page.goto(`${site.url}/app`);
    await page.waitForFunction(() => (globalThis as unknown as { ready?: boolean }).ready === true);
    pages.push(page);
  }
  return { app, site, pages };
}

type TabResult = { statuses: Record<string, number>; signedOut: number; signedIn: boolean; tokens: string[] };

async function runTabs(pages: Page[]): Promise<TabResult[]> {
  return Promise.all(pages.map((p) => p.evaluate(([calls, ms]) => (globalThis as unknown as { work: (c: number, m: number) => Promise<TabResult> }).work(calls, ms), [CALLS, RUN_MS] as const)));
}

function assertEveryCallSucceeded(results: TabResult[]): void {
  for (const [i, r] of results.entries()) {
    assert.deepEqual(Object.keys(r.statuses), ['200'], `tab ${i}: ${JSON.stringify(r.statuses)}`);
    assert.ok(r.statuses['200']! >= CALLS * 3, `tab ${i} made several rounds: ${JSON.stringify(r.statuses)}`);
    assert.equal(r.signedOut, 0, `tab ${i} was signed out`);
    assert.equal(r.signedIn, true);
  }
}

async function reuseDetected(app: TestApp): Promise<number> {
  const [row] = await sqlRows<{ n: number | string }>(app.dir, "SELECT count(*) AS n FROM security_events WHERE type = 'refresh_reuse_detected'");
  return Number(row!.n);
}

for (const storage of ['local', 'memory'] as const) {
  test(`with the SDK's lock (${storage} storage): 5 tabs x 20 calls across expiries, one refresh per expiry reaches the server`, { skip: missing, timeout: 180_000 }, async (t) => {
    const { app, site, pages } = await setup(t);
    for (const page of pages) await page.evaluate((s) => (globalThis as unknown as { makeClient: (o: object) => boolean }).makeClient({ storage: s }), storage);
    await pages[0]!.evaluate((pw) => (globalThis as unknown as { tab: { client: { login: (i: object) => Promise<unknown> } } }).tab.client.login({ username: 'tab_user', password: pw }), PASSWORD);
    for (const page of pages) await page.waitForFunction(() => (globalThis as unknown as { tab: { client: { signedIn: boolean } } }).tab.client.signedIn);

    const results = await runTabs(pages);
    assertEveryCallSucceeded(results);
    const rotated = await refreshMetric(app, 'rotated');
    const accessTokens = new Set(results.flatMap((r) => r.tokens));
    t.diagnostic(`${storage}: ${rotated} rotations, ${site.counts.refresh} refresh requests, ${accessTokens.size} access tokens seen`);
    assert.ok(rotated >= 2, `several expiries were crossed (${rotated} rotations)`);
    // Exactly one refresh per expiry: every refresh that reached the server was a rotation...
    assert.equal(site.counts.refresh, rotated);
    assert.equal(await refreshMetric(app, 'replayed'), 0);
    assert.equal(await refreshMetric(app, 'refused'), 0);
    // ...and every tab used the one token each refresh produced (the first one, from the login, included).
    assert.ok(accessTokens.size <= rotated + 1, `${accessTokens.size} access tokens for ${rotated} refreshes`);
    assert.equal(await reuseDetected(app), 0);
  });
}

test('without the lock: every tab refreshes for itself, and the server\'s grace window absorbs the race', { skip: missing, timeout: 180_000 }, async (t) => {
  const { app, site, pages } = await setup(t);
  const login = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'tab_user', password: PASSWORD } });
  assert.equal(login.statusCode, 200);
  for (const page of pages) {
    await page.evaluate((tokens) => {
      const w = globalThis as unknown as { makeClient: (o: object) => boolean; tab: { client: { setTokens: (t: unknown) => void } } };
      w.makeClient({ storage: 'memory', crossTab: false });
      w.tab.client.setTokens(tokens);
    }, login.json());
  }

  const results = await runTabs(pages);
  assertEveryCallSucceeded(results);
  const rotated = await refreshMetric(app, 'rotated');
  const replayed = await refreshMetric(app, 'replayed');
  t.diagnostic(`no lock: ${rotated} rotations, ${replayed} replays, ${site.counts.refresh} refresh requests`);
  assert.ok(rotated >= 2, `several expiries were crossed (${rotated} rotations)`);
  assert.ok(replayed >= rotated, 'the other tabs presented the same refresh token and got the same child');
  assert.equal(site.counts.refresh, rotated + replayed);
  assert.equal(await refreshMetric(app, 'refused'), 0);
  assert.equal(await reuseDetected(app), 0);
});
