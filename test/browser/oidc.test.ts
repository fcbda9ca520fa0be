/**
 * Gatehouse as the identity provider of two apps, in Debian's Chromium (playwright-core,
 * no browser download). Each app is a small server on its own localhost port using
 * openid-client: app one (third-party) sends the user to sign in (password and TOTP code)
 * and consent and gets them back signed in; app two (first-party) then signs in with no
 * page at all; logging out of app one ends app two's tokens too. Passkeys through the same
 * pages, with Chromium's virtual authenticator: username-less, and as the second step.
 * Gatehouse is served as http://localhost:<port> (browsers refuse passkeys on an IP).
 * Screenshots of each page go to test-results/screenshots/, or with UPDATE_SCREENSHOTS=1 to
 * docs/screenshots/ (committed): a plain run leaves the checkout as it was.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import * as oidc from 'openid-client';
import { chromium, type Page } from 'playwright-core';
import { PASSWORD, buildTestApp, login, register } from '../helpers/app.js';
import { codeAt, enrolTotp } from '../helpers/mfa.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? 'docs/screenshots' : 'test-results/screenshots';

interface RelyingParty {
  origin: string;
  /** The app's last tokens (one user in this test). */
  tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>> | undefined;
}

/**
 * A relying party as a Node app would be written with openid-client (the README's
 * example): /login redirects to Gatehouse, /callback exchanges the code, / shows who is
 * signed in (asking userinfo each time, so a revoked token shows), /logout ends the session.
 */
async function startApp(t: TestContext, issuer: string, clientId: string, secret: string | undefined, port: number): Promise<RelyingParty> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const origin = `http://localhost:${(server.address() as AddressInfo).port}`;
  // after hooks run in the order they were added, so the browser is still open here: a
  // connection it keeps (in flight or idle) must not hold close() until it goes (seen: 11 min).
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const config = await oidc.discovery(new URL(issuer), clientId, secret, secret ? oidc.ClientSecretBasic(secret) : oidc.None(), { execute: [oidc.allowInsecureRequests] });
  const pending = new Map<string, { verifier: string; nonce: string }>();
  const rp: RelyingParty = { origin, tokens: undefined };
  const page = (body: string) => `<!doctype html><html><head><title>${clientId}</title></head><body style="font-family:sans-serif;padding:40px"><h1>${clientId}</h1>${body}</body></html>`;

  server.on('request', (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', origin);
      if (url.pathname === '/login') {
        const verifier = oidc.randomPKCECodeVerifier();
        const state = oidc.randomState();
        const nonce = oidc.randomNonce();
        pending.set(state, { verifier, nonce });
        const target = oidc.buildAuthorizationUrl(config, {
          redirect_uri: `${origin}/callback`,
          scope: 'openid profile email offline_access',
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        });
        res.writeHead(302, { location: target.toString() }).end();
      } else if (url.pathname === '/callback') {
        const state = url.searchParams.get('state') ?? '';
        const checks = pending.get(state);
        if (!checks) return res.writeHead(400).end('unknown state');
        pending.delete(state);
        rp.tokens = await oidc.authorizationCodeGrant(config, url, { pkceCodeVerifier: checks.verifier, expectedState: state, expectedNonce: checks.nonce });
        res.writeHead(302, { location: '/' }).end();
      } else if (url.pathname === '/logout') {
        const target = oidc.buildEndSessionUrl(config, { id_token_hint: rp.tokens?.id_token ?? '', post_logout_redirect_uri: `${origin}/signed-out` });
        res.writeHead(302, { location: target.toString() }).end();
      } else if (url.pathname === '/signed-out') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(page('<p id="status">Signed out</p>'));
      } else {
        let status = 'Not signed in';
        if (rp.tokens) {
          try {
            const claims = rp.tokens.claims()!;
            const info = await oidc.fetchUserInfo(config, rp.tokens.access_token, claims.sub);
            status = `Signed in as ${String(info.preferred_username)}`;
          } catch {
            status = 'Session ended';
          }
        }
        res.writeHead(200, { 'content-type': 'text/html' }).end(page(`<p id="status">${status}</p><a href="/login">Sign in with Gatehouse</a>`));
      }
    })().catch((error: unknown) => res.writeHead(500).end(String(error)));
  });
  return rp;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

const BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Gatehouse on http://localhost:<port> (both loopback addresses), the issuer every URL derives from. */
async function startGatehouse(t: TestContext): Promise<{ app: Awaited<ReturnType<typeof buildTestApp>>; issuer: string }> {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const app = await buildTestApp(t, { PUBLIC_URL: issuer, RATE_LIMIT_LOGIN_PER_MINUTE: '100' });
  await app.app.listen({ host: 'localhost', port });
  return { app, issuer };
}

test('two apps on other ports: sign in with password and TOTP, consent, single sign-on, logout ends both', { skip: missing, timeout: 180_000 }, async (t) => {
  const { app, issuer } = await startGatehouse(t);
  await register(app, { username: 'alice', email: 'alice@example.com' });
  // alice has an authenticator app (enrolled through the API).
  const totp = await enrolTotp(app, (await login(app, 'alice')).access_token);
  assert.ok(totp.recoveryCodes);

  // Each app's port is known once it listens; register it then (redirect URIs are exact).
  const one = await startAppWithClient(t, app, issuer, 'wiki', { firstParty: false });
  const two = await startAppWithClient(t, app, issuer, 'grafana', { firstParty: true });

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: BROWSER_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 900, height: 720 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  // App one sends the user to Gatehouse's sign-in page.
  await page.goto(`${one.origin}/`);
  await page.getByText('Sign in with Gatehouse').click();
  await page.waitForURL(`${issuer}/oauth/authorize?**`);
  assert.equal(await page.locator('form[method="post"] input[name="username"]').count(), 1);
  await shot(page, 'signin');
  // A wrong password first: the page says what to do.
  await page.fill('input[name="username"]', 'alice');
  await page.fill('input[name="password"]', 'Not-the-password1');
  await page.click('button[type="submit"]');
  await page.getByRole('alert').waitFor();
  await shot(page, 'signin-error');
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('button[type="submit"]');

  // The second step: the code from the authenticator app (the next 30-second step: the
  // enrolment spent the current one, and a code is accepted once only).
  await page.locator('input[name="code"]').waitFor();
  await shot(page, 'second-factor');
  await page.fill('input[name="code"]', codeAt(totp.secret, Date.now() + 30_000));
  await page.click('form[action="/signin/second-factor"] button[type="submit"]');

  // Consent (app one is third-party), scopes in words.
  await page.getByText('wants to:').waitFor();
  assert.match(await page.locator('.gh-scopes').innerText(), /See your email address/);
  await shot(page, 'consent');
  await page.click('button[name="decision"][value="allow"]');
  await page.waitForURL(`${one.origin}/`);
  assert.equal(await page.locator('#status').innerText(), 'Signed in as alice');
  assert.deepEqual(one.tokens!.claims()!.amr, ['pwd', 'otp', 'mfa']);
  await shot(page, 'app-signed-in');

  // App two signs in with no page at all.
  await page.goto(`${two.origin}/login`);
  await page.waitForURL(`${two.origin}/`);
  assert.equal(await page.locator('#status').innerText(), 'Signed in as alice');

  // Logout from app one (its id_token_hint names this browser's session: no confirmation).
  await page.goto(`${one.origin}/logout`);
  await page.waitForURL(`${one.origin}/signed-out`);
  await page.goto(`${two.origin}/`);
  assert.equal(await page.locator('#status').innerText(), 'Session ended', 'app two\'s tokens died with the session');
  await page.goto(`${one.origin}/`);
  assert.equal(await page.locator('#status').innerText(), 'Session ended');

  // The other pages, for the screenshots: an error, the logout confirmation, the mailed links' pages, /docs.
  await page.goto(`${issuer}/oauth/authorize?client_id=wiki&redirect_uri=https%3A%2F%2Fevil.example.com%2F&response_type=code`);
  await shot(page, 'error-redirect-uri');
  await page.goto(`${two.origin}/login`);
  await page.fill('input[name="username"]', 'alice');
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('button[type="submit"]');
  // This time one of the recovery codes, in the same field.
  await page.fill('input[name="code"]', totp.recoveryCodes![0]!);
  await page.click('form[action="/signin/second-factor"] button[type="submit"]');
  await page.waitForURL(`${two.origin}/`);
  await page.goto(`${issuer}/oauth/end-session`);
  await shot(page, 'logout-confirm');
  await page.click('button[type="submit"]');
  await page.getByText('You are signed out').waitFor();
  await shot(page, 'logout-done');
  await page.goto(`${issuer}/password/reset?token=ghm_example`);
  await shot(page, 'password-reset');
  await page.goto(`${issuer}/email/verify?token=ghm_example`);
  await shot(page, 'email-verify');
  await page.click('button[type="submit"]');
  await page.getByRole('alert').waitFor();
  await shot(page, 'email-verify-expired');
  await page.goto(`${issuer}/docs`);
  await page.locator('.topbar').waitFor();
  assert.equal(await page.title(), 'Gatehouse API');
  await page.locator('.info .title').waitFor();
  await shot(page, 'docs');
  assert.deepEqual(pageErrors, []);
});

async function startAppWithClient(
  t: TestContext,
  app: Awaited<ReturnType<typeof buildTestApp>>,
  issuer: string,
  id: string,
  options: { firstParty: boolean },
): Promise<RelyingParty> {
  // The registered redirect URI names the app's port exactly: pick it first.
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const { secret } = await app.clients.create({
    id,
    name: id === 'wiki' ? 'Team Wiki' : 'Grafana',
    grantTypes: ['authorization_code', 'refresh_token'],
    confidential: true,
    now: new Date(),
    redirectUris: [`${origin}/callback`],
    postLogoutRedirectUris: [`${origin}/signed-out`],
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    firstParty: options.firstParty,
    idTokenAlg: 'RS256',
  });
  const rp = await startApp(t, issuer, id, secret, port);
  assert.equal(rp.origin, origin);
  return rp;
}


/** navigator.credentials.create() with JSON in and out, as page source (run in a page of Gatehouse's origin). */
const CREATE_PASSKEY = `async (o) => {
  const toBuf = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0)).buffer;
  const fromBuf = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const publicKey = { ...o, challenge: toBuf(o.challenge), user: { ...o.user, id: toBuf(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: toBuf(c.id) })) };
  const cred = await navigator.credentials.create({ publicKey });
  return { id: cred.id, rawId: fromBuf(cred.rawId), type: cred.type, clientExtensionResults: cred.getClientExtensionResults(),
    response: { clientDataJSON: fromBuf(cred.response.clientDataJSON), attestationObject: fromBuf(cred.response.attestationObject),
      transports: cred.response.getTransports() } };
}`;

async function createPasskey(page: Page, options: Json): Promise<Json> {
  return (await page.evaluate(`(${CREATE_PASSKEY})(${JSON.stringify(options)})`)) as Json;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped JSON bodies, read field by field
type Json = Record<string, any>;

test('passkeys at the hosted pages: username-less sign-in with no username typed, and a passkey as the second step', { skip: missing, timeout: 180_000 }, async (t) => {
  const { app, issuer } = await startGatehouse(t);
  await register(app, { username: 'pia', email: 'pia@example.com' });
  const one = await startAppWithClient(t, app, issuer, 'wiki', { firstParty: false });
  const two = await startAppWithClient(t, app, issuer, 'grafana', { firstParty: true });
  const call = async (path: string, body: unknown, token: string) => {
    const res = await fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Json };
  };

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: BROWSER_ARGS });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 900, height: 720 } });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  // pia registers a passkey through the API, the ceremony run in a page of Gatehouse's origin
  // (one without the sign-in page's script) with Chromium's virtual authenticator.
  await page.goto(`${issuer}/healthz`);
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  // Presence on: the authenticator answers the next request as if the user touched it.
  const presence = (enabled: boolean) => cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
  const { access_token: token } = await login(app, 'pia');
  const options = await call('/webauthn/register/options', { password: PASSWORD }, token);
  assert.equal(options.status, 200, JSON.stringify(options.body));
  const registered = await call('/webauthn/register', { response: await createPasskey(page, options.body), name: 'Laptop' }, token);
  assert.equal(registered.status, 201, JSON.stringify(registered.body));

  // Autofill: app one sends pia to the sign-in page, whose username field offers her passkey
  // (conditional mediation); the virtual authenticator picks it, as she would. No username typed.
  await page.goto(`${one.origin}/`);
  await page.getByText('Sign in with Gatehouse').click();
  await page.getByText('wants to:').waitFor();
  await page.click('button[name="decision"][value="allow"]');
  await page.waitForURL(`${one.origin}/`);
  assert.equal(await page.locator('#status').innerText(), 'Signed in as pia');
  assert.deepEqual(one.tokens!.claims()!.amr, ['hwk', 'user', 'mfa'], 'a user-verified passkey is a complete multi-factor sign-in');

  // The button: signed out of Gatehouse (cookies gone), the page waits for her (presence off) ...
  await context.clearCookies();
  await presence(false);
  await page.goto(`${one.origin}/login`);
  const button = page.locator('#gh-passkey-button');
  await button.waitFor({ state: 'visible' });
  assert.equal(await button.innerText(), 'Sign in with a passkey');
  assert.equal(await page.inputValue('input[name="username"]'), '');
  await shot(page, 'signin-passkey');
  // ... and she presses "Sign in with a passkey" (consent is remembered: straight back).
  await presence(true);
  await button.click();
  await page.waitForURL(`${one.origin}/`);
  assert.equal(await page.locator('#status').innerText(), 'Signed in as pia');
  assert.deepEqual(one.tokens!.claims()!.amr, ['hwk', 'user', 'mfa']);

  // The second step: app two, her password first, then the passkey instead of a code.
  await context.clearCookies();
  await presence(false);
  await page.goto(`${two.origin}/login`);
  await page.fill('input[name="username"]', 'pia');
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('form[action="/signin"] button[type="submit"]');
  const instead = page.locator('#gh-passkey-button');
  await instead.waitFor({ state: 'visible' });
  assert.equal(await instead.innerText(), 'Use a passkey instead');
  assert.equal(await page.locator('input[name="code"]').count(), 1, 'a recovery code still works');
  await shot(page, 'second-factor-passkey');
  await presence(true);
  await instead.click();
  await page.waitForURL(`${two.origin}/`);
  assert.equal(await page.locator('#status').innerText(), 'Signed in as pia');
  assert.deepEqual(two.tokens!.claims()!.amr, ['pwd', 'hwk', 'user', 'mfa']);
  assert.deepEqual(pageErrors, []);
});
