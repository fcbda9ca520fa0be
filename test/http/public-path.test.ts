/**
 * PUBLIC_URL with a path (`https://example.com/auth`), behind a reverse proxy that serves
 * Gatehouse under that path and strips it: every link, form action, redirect and cookie
 * path the server writes starts with the path, so a browser and an OpenID Connect relying
 * party that only ever talk to the proxy get through. The proxy here is a real one, over
 * real HTTP, that forwards /auth/... to the server as /... and nothing else.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import * as oidc from 'openid-client';
import { PASSWORD, buildTestApp, register, type TestApp } from '../helpers/app.js';
import { UserAgent, readForm } from '../helpers/user-agent.js';

const PREFIX = '/auth';

/** A stripping reverse proxy on `port`, forwarding to the server on `upstream`. */
async function stripProxy(t: TestContext, upstream: number, port: number): Promise<void> {
  const proxy = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url !== PREFIX && !url.startsWith(`${PREFIX}/`) && !url.startsWith(`${PREFIX}?`)) {
      res.writeHead(404).end('not under the proxy path');
      return;
    }
    const path = url.slice(PREFIX.length) || '/';
    const forward = http.request({ host: '127.0.0.1', port: upstream, method: req.method, path: path.startsWith('/') ? path : `/${path}`, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function behindProxy(t: TestContext, env: Record<string, string> = {}): Promise<{ app: TestApp; origin: string; issuer: string }> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const issuer = `${origin}${PREFIX}`;
  const app = await buildTestApp(t, { PUBLIC_URL: issuer, RATE_LIMIT_LOGIN_PER_MINUTE: '1000', ...env });
  await app.app.listen({ host: '127.0.0.1', port: 0 });
  await stripProxy(t, (app.app.server.address() as AddressInfo).port, port);
  return { app, origin, issuer };
}

test('PUBLIC_URL with a path: an OpenID Connect sign-in through a stripping proxy, every page, form and redirect under the path', async (t) => {
  const { app, origin, issuer } = await behindProxy(t);
  await register(app, { username: 'alice' });
  const redirectUri = 'http://localhost:5101/callback';
  const { secret } = await app.clients.create({
    id: 'app-one',
    grantTypes: ['authorization_code', 'refresh_token'],
    confidential: true,
    now: new Date(),
    redirectUris: [redirectUri],
    scopes: ['openid', 'profile'],
    firstParty: true,
  });

  // Discovery through the proxy: the issuer and every endpoint carry the path.
  const config = await oidc.discovery(new URL(issuer), 'app-one', { client_secret: secret! }, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
  const meta = config.serverMetadata();
  assert.equal(meta.issuer, issuer);
  for (const url of [meta.authorization_endpoint, meta.token_endpoint, meta.jwks_uri, meta.userinfo_endpoint]) assert.ok(url?.startsWith(`${issuer}/`), url);

  // The user's side: the sign-in page's form posts to the path, and the code comes back.
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid profile', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const agent = new UserAgent(origin);
  const page = await agent.fetch(url);
  assert.equal(page.status, 200);
  const html = await page.text();
  const form = readForm(html);
  assert.equal(form.action, `${PREFIX}/signin`);
  for (const [, link] of html.matchAll(/(?:action|src|href)="(\/[^"]*)"/g)) assert.ok(link!.startsWith(`${PREFIX}/`), `${link} is under ${PREFIX}`);
  const { callback } = await agent.follow(await agent.post(form, { username: 'alice', password: PASSWORD }), redirectUri);
  assert.ok(callback, 'signed in through the proxy');
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, idTokenExpected: true });
  assert.equal(tokens.claims()!.iss, issuer, 'the ID token verified against the JWKS at the path');
  assert.equal(tokens.claims()!.preferred_username, 'alice');
});

test('PUBLIC_URL with a path: / and the API reference, the OpenAPI password flow, and the refresh cookie path', async (t) => {
  const { origin } = await behindProxy(t, { REFRESH_TOKEN_COOKIE: 'true' });
  const root = await fetch(`${origin}${PREFIX}/`, { redirect: 'manual' });
  assert.equal(root.headers.get('location'), `${PREFIX}/docs`);
  const docs = await fetch(`${origin}${PREFIX}/docs`);
  assert.equal(docs.status, 200);
  const page = await docs.text();
  const assets = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((u) => !u.startsWith('http'));
  assert.ok(assets.length > 3, 'the page loads its scripts and styles');
  for (const asset of assets) {
    const res = await fetch(new URL(asset, `${origin}${PREFIX}/docs`));
    assert.equal(res.status, 200, `${asset} through the proxy`);
  }
  const openapi = (await (await fetch(`${origin}${PREFIX}/openapi.json`)).json()) as {
    components: { securitySchemes: { OAuth2PasswordBearer: { flows: { password: { tokenUrl: string; refreshUrl: string } } } } };
  };
  assert.deepEqual(openapi.components.securitySchemes.OAuth2PasswordBearer.flows.password, { tokenUrl: `${PREFIX}/login`, refreshUrl: `${PREFIX}/refresh`, scopes: {} });

  const registered = await fetch(`${origin}${PREFIX}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bob', email: 'bob@example.com', password: PASSWORD }) });
  assert.equal(registered.status, 200);
  const login = await fetch(`${origin}${PREFIX}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gatehouse-csrf': '1' }, body: JSON.stringify({ username: 'bob', password: PASSWORD }) });
  assert.equal(login.status, 200);
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith('gatehouse_refresh='));
  assert.ok(cookie?.includes(`Path=${PREFIX}/refresh;`), `the browser sends it to ${PREFIX}/refresh: ${cookie}`);
});
