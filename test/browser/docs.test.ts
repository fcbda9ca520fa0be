/**
 * A person's path through /docs, in Debian's Chromium driven by playwright-core (no browser
 * download): Authorize with the OAuth2 password flow, then run GET /me from the page.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { PASSWORD, buildTestApp, register } from '../helpers/app.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;

test('Swagger UI: Authorize with username and password, then GET /me shows the user', { skip: missing, timeout: 90_000 }, async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'browser_user', email: 'browser@example.com' });
  const address = await app.app.listen({ host: '127.0.0.1', port: 0 });

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // This machine has no network: keep Chromium from reaching for Google's services.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  await page.goto(`${address}/`);
  await page.locator('.btn.authorize').first().click();
  const oauth = page.locator('.auth-container').filter({ hasText: 'OAuth2PasswordBearer' });
  await oauth.locator('#oauth_username').fill('browser_user');
  await oauth.locator('#oauth_password').fill(PASSWORD);
  await oauth.locator('button.authorize').click();
  await oauth.getByText('Authorized').waitFor({ timeout: 15_000 });
  await page.locator('button.btn-done').first().click();

  const op = page.locator('#operations-auth-get_me');
  await op.locator('.opblock-summary').click();
  if (!(await op.locator('button.execute').isVisible())) await op.locator('button.try-out__btn').click();
  await op.locator('button.execute').click();
  const live = op.locator('.live-responses-table');
  await live.getByText('browser@example.com').waitFor({ timeout: 15_000 });
  const text = await live.innerText();
  assert.match(text, /200/);
  assert.match(text, /"username": "browser_user"/);

  mkdirSync('test-results', { recursive: true });
  await page.screenshot({ path: 'test-results/docs-authorize-me.png', fullPage: true });
  assert.deepEqual(pageErrors, []);
});
