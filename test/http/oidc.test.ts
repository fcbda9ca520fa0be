/**
 * Gatehouse as an OpenID Connect provider, seen by independent relying parties over real
 * HTTP: openid-client (panva, v6, strict defaults) and oauth4webapi do discovery, the
 * authorization code flow with PKCE, ID-token validation, userinfo, refresh and logout;
 * the user's side is a small cookie-keeping agent that fills in the hosted pages' forms.
 * The negative cases check each refusal the specs ask for.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import * as oidc from 'openid-client';
import * as o4w from 'oauth4webapi';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { FakeClock, PASSWORD, buildTestApp, login, openStoredJwk, register, sqlReader, type TestApp } from '../helpers/app.js';
import { codeAt, enrolTotp, wrongCode } from '../helpers/mfa.js';
import { UserAgent, readForm, formPostParams } from '../helpers/user-agent.js';
import type { IdTokenAlgorithm } from '../../src/domain/types.js';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Served {
  app: TestApp;
  issuer: string;
}

async function serve(t: TestContext, env: Record<string, string> = {}, options: { clock?: FakeClock; host?: '127.0.0.1' | 'localhost' } = {}): Promise<Served> {
  const port = await freePort();
  // localhost when the pages need passkeys (browsers refuse them on an IP).
  const host = options.host ?? '127.0.0.1';
  const issuer = `http://${host}:${port}`;
  const app = await buildTestApp(t, { PUBLIC_URL: issuer, PORT: String(port), RATE_LIMIT_LOGIN_PER_MINUTE: '1000', ...env }, options);
  await app.app.listen({ host, port });
  return { app, issuer };
}

const APP1 = 'http://localhost:5101';
const APP2 = 'http://localhost:5102';

async function createClient(
  app: TestApp,
  id: string,
  options: { redirect?: string; firstParty?: boolean; confidential?: boolean; scopes?: string[]; alg?: IdTokenAlgorithm; logout?: string; backchannel?: string } = {},
): Promise<{ id: string; secret: string | undefined; redirectUri: string }> {
  const redirectUri = options.redirect ?? `${APP1}/callback`;
  const { secret } = await app.clients.create({
    id,
    grantTypes: ['authorization_code', 'refresh_token'],
    confidential: options.confidential ?? true,
    now: new Date(),
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [options.logout ?? `${new URL(redirectUri).origin}/signed-out`],
    scopes: options.scopes ?? ['openid', 'profile', 'email', 'offline_access'],
    firstParty: options.firstParty ?? false,
    idTokenAlg: options.alg ?? 'RS256',
    backchannelLogoutUri: options.backchannel ?? null,
  });
  return { id, secret, redirectUri };
}

/** openid-client, configured by discovery; http on loopback is allowed for the test server only. */
async function rp(issuer: string, client: { id: string; secret: string | undefined }, alg: IdTokenAlgorithm = 'RS256'): Promise<oidc.Configuration> {
  const metadata: Partial<oidc.ClientMetadata> = { id_token_signed_response_alg: alg };
  if (client.secret) metadata.client_secret = client.secret;
  return oidc.discovery(new URL(issuer), client.id, metadata, client.secret ? oidc.ClientSecretBasic(client.secret) : oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
}

/**
 * Walks the user through the pages from an authorization URL to the callback: signs in
 * when asked, answers consent when asked; returns the callback URL and what was shown.
 */
async function userAuthorizes(
  agent: UserAgent,
  url: URL,
  callbackPrefix: string,
  options: { username?: string; password?: string; consent?: 'allow' | 'deny' } = {},
): Promise<{ callback: URL | undefined; pages: string[]; last: Response; body: string }> {
  const pages: string[] = [];
  let { res, callback } = await agent.follow(await agent.fetch(url), callbackPrefix);
  for (let step = 0; step < 4 && !callback; step++) {
    if (res.status !== 200 && res.status !== 401) break;
    const body = await res.text();
    if (body.includes('action="/signin"')) {
      pages.push('signin');
      const form = readForm(body, '/signin');
      ({ res, callback } = await agent.follow(await agent.post(form, { username: options.username ?? 'alice', password: options.password ?? PASSWORD }), callbackPrefix));
    } else if (body.includes('action="/consent"')) {
      pages.push('consent');
      const form = readForm(body, '/consent');
      ({ res, callback } = await agent.follow(await agent.post(form, { decision: options.consent ?? 'allow' }), callbackPrefix));
    } else {
      return { callback: undefined, pages, last: res, body };
    }
  }
  return { callback, pages, last: res, body: callback ? '' : await res.text() };
}

async function authorizationUrl(config: oidc.Configuration, redirectUri: string, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

test('openid-client: discovery, code + PKCE with consent, ID token, userinfo, refresh, RP-initiated logout', async (t) => {
  const { app, issuer } = await serve(t);
  const alice = await register(app, { username: 'alice' });
  const client = await createClient(app, 'grafana');
  const config = await rp(issuer, client);
  const meta = config.serverMetadata();
  assert.equal(meta.issuer, issuer);
  for (const key of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'end_session_endpoint'] as const) {
    assert.ok(String(meta[key]).startsWith(`${issuer}/`), `${key} derives from PUBLIC_URL`);
  }
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(meta.response_types_supported, ['code']);
  assert.ok(meta.id_token_signing_alg_values_supported?.includes('RS256'));

  const agent = new UserAgent(issuer);
  const { url, verifier, state, nonce } = await authorizationUrl(config, client.redirectUri);
  const flow = await userAuthorizes(agent, url, client.redirectUri);
  assert.deepEqual(flow.pages, ['signin', 'consent']);
  assert.ok(flow.callback, `came back to the client (${flow.body.slice(0, 200)})`);
  assert.equal(flow.callback.searchParams.get('iss'), issuer, 'RFC 9207 iss');
  assert.equal(flow.callback.searchParams.get('state'), state);

  const tokens = await oidc.authorizationCodeGrant(config, flow.callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  const claims = tokens.claims()!;
  assert.equal(claims.sub, String(alice.id));
  assert.equal(claims.aud, 'grafana');
  assert.equal(claims.nonce, nonce);
  assert.equal(typeof claims.auth_time, 'number');
  assert.deepEqual(claims.amr, ['pwd']);
  assert.equal(typeof claims.sid, 'string');
  assert.equal(claims.preferred_username, 'alice');
  assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'RS256');
  assert.equal(tokens.scope, 'openid profile email offline_access');
  assert.equal(decodeJwt(tokens.access_token).scope, 'openid profile email offline_access', 'access tokens carry scope');
  assert.ok(tokens.refresh_token, 'offline_access after consent gives a refresh token');

  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.deepEqual(info, { sub: String(alice.id), preferred_username: 'alice', email: 'alice@example.com', email_verified: false });

  // Introspection reports the scopes (a resource server with a secret, of the token's audience:
  // main's rule, a client introspects only its own tokens and those for its audience).
  const audience = decodeJwt(tokens.access_token).aud as string;
  const rs = await app.clients.create({ id: 'orders-api', grantTypes: ['password'], confidential: true, audience, now: new Date() });
  const introspected = await fetch(`${issuer}/oauth/introspect`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`orders-api:${rs.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tokens.access_token }),
  });
  assert.equal(((await introspected.json()) as { scope: string }).scope, 'openid profile email offline_access');

  // Refresh: Gatehouse's rotating refresh token, scopes kept.
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'rotated');
  assert.equal(decodeJwt(refreshed.access_token).scope, 'openid profile email offline_access');
  await oidc.fetchUserInfo(config, refreshed.access_token, claims.sub);

  // The sessions list shows the browser sign-in and the client it signed in to.
  const sessions = (await (await fetch(`${issuer}/sessions`, { headers: { authorization: `Bearer ${refreshed.access_token}` } })).json()) as Array<{ client_id: string; signed_in_clients: string[] }>;
  const browser = sessions.find((s) => s.client_id === 'gatehouse:signin');
  assert.deepEqual(browser?.signed_in_clients, ['grafana']);

  // RP-initiated logout: back to the registered URI with state; the session and its tokens end.
  const logoutUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${APP1}/signed-out`, state: 'bye' });
  const logout = await agent.fetch(logoutUrl);
  assert.equal(logout.status, 303);
  assert.equal(logout.headers.get('location'), `${APP1}/signed-out?state=bye`);
  await assert.rejects(oidc.fetchUserInfo(config, refreshed.access_token, claims.sub), 'the access token is revoked');
  await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token!), 'the refresh token is dead');
  // The sign-in cookie is gone: the next authorization asks for a password again.
  const again = await userAuthorizes(agent, (await authorizationUrl(config, client.redirectUri, { prompt: 'none' })).url, client.redirectUri);
  assert.equal(again.callback?.searchParams.get('error'), 'login_required');
});

test('consent is remembered per user and client until withdrawn', async (t) => {
  const { app, issuer } = await serve(t);
  await register(app, { username: 'alice' });
  const client = await createClient(app, 'third');
  const agent = new UserAgent(issuer);
  const first = await getCode(agent, issuer, client, { scope: 'openid email' });
  assert.deepEqual(first.flow.pages, ['signin', 'consent']);
  const again = await getCode(agent, issuer, client, { scope: 'openid email' });
  assert.deepEqual(again.flow.pages, [], 'remembered');
  assert.ok(again.code);
  const wider = await getCode(agent, issuer, client, { scope: 'openid email profile' });
  assert.deepEqual(wider.flow.pages, ['consent'], 'a new scope is asked for');
  const forced = await getCode(agent, issuer, client, { scope: 'openid', prompt: 'consent' });
  assert.deepEqual(forced.flow.pages, ['consent'], 'prompt=consent asks anyway');

  const tokens = (await (await tokenRequest(issuer, { code: again.code!, redirect_uri: client.redirectUri, code_verifier: again.verifier }, client)).json()) as { access_token: string };
  const headers = { authorization: `Bearer ${tokens.access_token}` };
  const listed = (await (await fetch(`${issuer}/consents`, { headers })).json()) as Array<{ client_id: string; scope: string }>;
  assert.deepEqual(listed.map((c) => [c.client_id, c.scope.split(' ').sort().join(' ')]), [['third', 'email openid profile']]);
  assert.equal((await fetch(`${issuer}/consents/third`, { method: 'DELETE', headers })).status, 204);
  assert.equal((await fetch(`${issuer}/consents/third`, { method: 'DELETE', headers })).status, 404);
  const afterWithdrawal = await getCode(agent, issuer, client, { scope: 'openid', prompt: 'none', state: 'q' });
  assert.equal(afterWithdrawal.callback?.searchParams.get('error'), 'consent_required');
});

test('single sign-on: a second app signs in without a password; prompt=none; logout from one ends both', async (t) => {
  const { app, issuer } = await serve(t);
  await register(app, { username: 'alice' });
  const one = await createClient(app, 'app-one', { firstParty: true });
  const two = await createClient(app, 'app-two', { firstParty: true, confidential: false, redirect: `${APP2}/cb`, alg: 'EdDSA' });
  const rp1 = await rp(issuer, one);
  const rp2 = await rp(issuer, two, 'EdDSA');
  const agent = new UserAgent(issuer);

  // Without a session prompt=none answers login_required, with iss and state, to the client.
  const silent = await authorizationUrl(rp2, two.redirectUri, { prompt: 'none' });
  const refused = await userAuthorizes(agent, silent.url, two.redirectUri);
  assert.equal(refused.callback?.searchParams.get('error'), 'login_required');
  assert.equal(refused.callback?.searchParams.get('iss'), issuer);
  assert.equal(refused.callback?.searchParams.get('state'), silent.state);

  const first = await authorizationUrl(rp1, one.redirectUri);
  const signedIn = await userAuthorizes(agent, first.url, one.redirectUri);
  assert.deepEqual(signedIn.pages, ['signin'], 'first-party: no consent screen');
  const t1 = await oidc.authorizationCodeGrant(rp1, signedIn.callback!, { pkceCodeVerifier: first.verifier, expectedState: first.state, expectedNonce: first.nonce });
  assert.ok(t1.refresh_token, 'a first-party client gets offline_access without consent');

  const second = await authorizationUrl(rp2, two.redirectUri, { prompt: 'none' });
  const sso = await userAuthorizes(agent, second.url, two.redirectUri);
  assert.deepEqual(sso.pages, [], 'no page at all: single sign-on');
  const t2 = await oidc.authorizationCodeGrant(rp2, sso.callback!, { pkceCodeVerifier: second.verifier, expectedState: second.state, expectedNonce: second.nonce });
  assert.equal(decodeProtectedHeader(t2.id_token!).alg, 'EdDSA', 'the algorithm the client registered');
  assert.equal(t2.claims()!.sid, t1.claims()!.sid, 'one sign-on session');
  assert.equal(t2.claims()!.auth_time, t1.claims()!.auth_time);

  // Logout from app two ends app one's tokens as well.
  const logout = await agent.fetch(oidc.buildEndSessionUrl(rp2, { id_token_hint: t2.id_token!, post_logout_redirect_uri: `${APP2}/signed-out` }));
  assert.equal(logout.status, 303);
  for (const [config, tokens] of [[rp1, t1], [rp2, t2]] as const) {
    const res = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(res.status, 401);
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!));
  }
  // ...and the revocation feed (GET /revocations/stream) tells resource servers of both sessions.
  const recorded = new Set((await app.stores.revocations.after(0, 100)).map((r) => r.sessionId));
  for (const tokens of [t1, t2]) assert.ok(recorded.has(decodeJwt(tokens.access_token).sid as string), 'the revocation feed has the session');
});

test('oauth4webapi: code + PKCE with form_post, ES256 ID token, userinfo, refresh', async (t) => {
  const { app, issuer } = await serve(t);
  const bob = await register(app, { username: 'bob' });
  const registered = await createClient(app, 'cli-tool', { firstParty: true, confidential: false, alg: 'ES256', redirect: 'http://127.0.0.1:7777/cb' });
  const as = await o4w.processDiscoveryResponse(new URL(issuer), await o4w.discoveryRequest(new URL(issuer), { algorithm: 'oidc', [o4w.allowInsecureRequests]: true }));
  const client: o4w.Client = { client_id: registered.id, id_token_signed_response_alg: 'ES256' };
  const verifier = o4w.generateRandomCodeVerifier();
  const nonce = o4w.generateRandomNonce();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: registered.redirectUri,
    response_type: 'code',
    response_mode: 'form_post',
    scope: 'openid email offline_access',
    code_challenge: await o4w.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
  }).toString();
  const agent = new UserAgent(issuer);
  const flow = await userAuthorizes(agent, url, registered.redirectUri, { username: 'bob@example.com' });
  assert.deepEqual(flow.pages, ['signin']);
  assert.equal(flow.last.status, 200, 'form_post answers a page');
  assert.match(String(flow.last.headers.get('content-security-policy')), /form-action 'self' http:\/\/127\.0\.0\.1:7777/);
  const posted = formPostParams(flow.body);
  assert.equal(posted.action, registered.redirectUri);
  assert.equal(posted.params.iss, issuer);

  const params = o4w.validateAuthResponse(as, client, new URLSearchParams(posted.params), o4w.expectNoState);
  const res = await o4w.authorizationCodeGrantRequest(as, client, o4w.None(), params, registered.redirectUri, verifier, { [o4w.allowInsecureRequests]: true });
  const tokens = await o4w.processAuthorizationCodeResponse(as, client, res, { expectedNonce: nonce, requireIdToken: true });
  const claims = o4w.getValidatedIdTokenClaims(tokens)!;
  assert.equal(claims.sub, String(bob.id));
  assert.equal(claims.email, 'bob@example.com');
  assert.equal(claims.preferred_username, undefined, 'no profile scope, no username');
  assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'ES256');
  // The ID token verifies against the published JWKS.
  await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(as.jwks_uri!)), { issuer, audience: 'cli-tool', algorithms: ['ES256'] });

  const info = await o4w.processUserInfoResponse(as, client, claims.sub, await o4w.userInfoRequest(as, client, tokens.access_token, { [o4w.allowInsecureRequests]: true }));
  assert.deepEqual(info, { sub: String(bob.id), email: 'bob@example.com', email_verified: false });
  const refreshed = await o4w.processRefreshTokenResponse(
    as,
    client,
    await o4w.refreshTokenGrantRequest(as, client, o4w.None(), tokens.refresh_token!, { [o4w.allowInsecureRequests]: true }),
  );
  assert.equal(refreshed.scope, 'openid email offline_access');
});

/** A code for `client` through the pages, with a fresh verifier, ready to redeem. */
async function getCode(agent: UserAgent, issuer: string, client: { id: string; redirectUri: string }, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const url = new URL(`${issuer}/oauth/authorize`);
  url.search = new URLSearchParams({
    client_id: client.id,
    redirect_uri: client.redirectUri,
    response_type: 'code',
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  const flow = await userAuthorizes(agent, url, client.redirectUri);
  return { callback: flow.callback, flow, verifier, code: flow.callback?.searchParams.get('code') ?? undefined };
}

function tokenRequest(issuer: string, fields: Record<string, string>, basic?: { id: string; secret: string | undefined }) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${basic.id}:${basic.secret}`).toString('base64')}`;
  return fetch(`${issuer}/oauth/token`, { method: 'POST', headers, body: new URLSearchParams({ grant_type: 'authorization_code', ...fields }) });
}

test('PKCE: a missing or plain challenge is refused at the authorization endpoint, a wrong verifier at the token endpoint', async (t) => {
  const { app, issuer } = await serve(t);
  await register(app, { username: 'alice' });
  const client = await createClient(app, 'web', { firstParty: true });
  const agent = new UserAgent(issuer);
  const base = { client_id: client.id, redirect_uri: client.redirectUri, response_type: 'code', scope: 'openid', state: 's1' };
  for (const [params, description] of [
    [base, /PKCE is required/],
    [{ ...base, code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }, /S256/],
    [{ ...base, code_challenge: 'a'.repeat(43) }, /S256/],
  ] as const) {
    const res = await agent.fetch(`${issuer}/oauth/authorize?${new URLSearchParams(params as Record<string, string>)}`);
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.origin + location.pathname, client.redirectUri);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description')!, description);
    assert.equal(location.searchParams.get('iss'), issuer, 'iss on errors too');
    assert.equal(location.searchParams.get('state'), 's1');
  }

  const { code, verifier } = await getCode(agent, issuer, client);
  assert.ok(code);
  for (const wrong of [undefined, oidc.randomPKCECodeVerifier(), verifier.slice(0, 42)]) {
    const res = await tokenRequest(issuer, { code: code!, redirect_uri: client.redirectUri, ...(wrong ? { code_verifier: wrong } : {}) }, client);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
  }
  // The right verifier still works: failed attempts did not burn the code.
  const ok = await tokenRequest(issuer, { code: code!, redirect_uri: client.redirectUri, code_verifier: verifier }, client);
  assert.equal(ok.status, 200);
});

test('a reused code is refused and revokes the tokens its first use gave; a code of another client is refused', async (t) => {
  const { app, issuer } = await serve(t);
  await register(app, { username: 'alice' });
  const client = await createClient(app, 'web', { firstParty: true });
  const other = await createClient(app, 'other', { firstParty: true });
  const agent = new UserAgent(issuer);

  const stolen = await getCode(agent, issuer, client);
  const asOther = await tokenRequest(issuer, { code: stolen.code!, redirect_uri: client.redirectUri, code_verifier: stolen.verifier }, other);
  assert.equal(asOther.status, 400);
  assert.equal(((await asOther.json()) as { error: string }).error, 'invalid_grant');

  const first = await tokenRequest(issuer, { code: stolen.code!, redirect_uri: client.redirectUri, code_verifier: stolen.verifier }, client);
  assert.equal(first.status, 200);
  const tokens = (await first.json()) as { access_token: string };
  assert.equal((await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 200);

  const second = await tokenRequest(issuer, { code: stolen.code!, redirect_uri: client.redirectUri, code_verifier: stolen.verifier }, client);
  assert.equal(second.status, 400);
  assert.equal(((await second.json()) as { error: string }).error, 'invalid_grant');
  assert.equal((await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 401, 'revoked by the reuse');

  // A code also dies with its redirect_uri mismatch, and after 60 s (checked by the store's expiry).
  const next = await getCode(agent, issuer, client);
  const wrongRedirect = await tokenRequest(issuer, { code: next.code!, redirect_uri: `${client.redirectUri}/x`, code_verifier: next.verifier }, client);
  assert.equal(wrongRedirect.status, 400);
});

test('an unregistered redirect_uri gets an error page, never a redirect (open-redirect attempts)', async (t) => {
  const { app, issuer } = await serve(t);
  const client = await createClient(app, 'web', { firstParty: true, redirect: 'https://app.example.com/callback' });
  const agent = new UserAgent(issuer);
  const challenge = await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier());
  for (const redirect of [
    'https://evil.example.com/callback',
    'https://app.example.com/callback/../evil',
    'https://app.example.com/callback?next=https://evil.example.com',
    'https://app.example.com/callbackx',
    'https://app.example.com:8443/callback',
    'https://app.example.com/callback#frag',
    'https://APP.example.com/callback',
    'http://app.example.com/callback',
    '//evil.example.com/callback',
    '',
  ]) {
    const query = new URLSearchParams({ client_id: client.id, redirect_uri: redirect, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', scope: 'openid' });
    const res = await agent.fetch(`${issuer}/oauth/authorize?${query}`);
    assert.equal(res.status, 400, redirect);
    assert.equal(res.headers.get('location'), null, `${redirect}: no redirect`);
    assert.match(String(res.headers.get('content-type')), /^text\/html/);
    assert.match(await res.text(), /tell its administrator/);
  }
  // An unknown client too.
  const unknown = await agent.fetch(`${issuer}/oauth/authorize?client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example.com&response_type=code`);
  assert.equal(unknown.status, 400);
  assert.equal(unknown.headers.get('location'), null);
  // Other errors go back to the (verified) client with iss.
  const token = await agent.fetch(`${issuer}/oauth/authorize?${new URLSearchParams({ client_id: client.id, redirect_uri: client.redirectUri, response_type: 'token', state: 'x' })}`);
  assert.equal(token.status, 303);
  assert.equal(new URL(token.headers.get('location')!).searchParams.get('error'), 'unsupported_response_type');
});

test('the hosted pages refuse a form without its CSRF token, and a tampered authorization request in it', async (t) => {
  const { app, issuer } = await serve(t);
  await register(app, { username: 'alice' });
  const client = await createClient(app, 'third');
  const agent = new UserAgent(issuer);
  const verifier = oidc.randomPKCECodeVerifier();
  const query = new URLSearchParams({ client_id: client.id, redirect_uri: client.redirectUri, response_type: 'code', scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const page = await agent.fetch(`${issuer}/oauth/authorize?${query}`);
  assert.equal(page.status, 200);
  assert.match(String(page.headers.get('content-security-policy')), /frame-ancestors 'none'/);
  const csrfCookie = (page.headers.getSetCookie().find((c) => c.includes('gatehouse_csrf')) ?? '').toLowerCase();
  for (const attribute of ['httponly', 'samesite=lax', 'path=/']) assert.ok(csrfCookie.includes(attribute), attribute);
  const signin = readForm(await page.text(), '/signin');
  assert.ok(signin.fields.csrf_token);

  const without = { ...signin, fields: { ...signin.fields } };
  delete without.fields.csrf_token;
  const noToken = await agent.post(without, { username: 'alice', password: PASSWORD });
  assert.equal(noToken.status, 403);
  assert.equal(agent.cookies.has('gatehouse_session'), false, 'not signed in');
  const crossSite = await agent.post(signin, { username: 'alice', password: PASSWORD }, { origin: 'https://evil.example.com' });
  assert.equal(crossSite.status, 403, 'a post from another origin');
  const wrongPassword = await agent.post(signin, { username: 'alice', password: 'Wrong-password9' });
  assert.equal(wrongPassword.status, 401);
  assert.match(await wrongPassword.text(), /not right/);

  // Signed in, the consent form: without its token nothing is decided.
  const consentPage = await agent.post(signin, { username: 'alice', password: PASSWORD });
  assert.equal(consentPage.status, 200);
  const sessionCookie = consentPage.headers.getSetCookie().find((c) => c.startsWith('gatehouse_session=')) ?? '';
  assert.match(sessionCookie, /HttpOnly/);
  assert.match(sessionCookie, /SameSite=Lax/);
  const consent = readForm(await consentPage.text(), '/consent');
  const noConsentToken = await agent.post({ ...consent, fields: { authorize: consent.fields.authorize! } }, { decision: 'allow' });
  assert.equal(noConsentToken.status, 403);
  // The request inside the form is checked again: another redirect_uri is not obeyed.
  const tampered = new URLSearchParams(consent.fields.authorize);
  tampered.set('redirect_uri', 'https://evil.example.com/cb');
  const redirected = await agent.post({ ...consent, fields: { ...consent.fields, authorize: tampered.toString() } }, { decision: 'allow' });
  assert.equal(redirected.status, 400);
  assert.equal(redirected.headers.get('location'), null);
  // Deny goes back with access_denied.
  const denied = await agent.post(consent, { decision: 'deny' });
  assert.equal(denied.status, 303);
  assert.equal(new URL(denied.headers.get('location')!).searchParams.get('error'), 'access_denied');
  assert.equal(await app.stores.oidc.findConsent(1, client.id), undefined, 'nothing remembered');

  // The logout confirmation form needs its token too.
  const confirm = await agent.fetch(`${issuer}/oauth/end-session`);
  assert.equal(confirm.status, 200);
  const logoutForm = readForm(await confirm.text(), '/oauth/end-session');
  const noLogoutToken = await agent.post({ ...logoutForm, fields: {} });
  assert.equal(noLogoutToken.status, 403);
  assert.ok(agent.cookies.has('gatehouse_session'), 'still signed in');
  const loggedOut = await agent.post(logoutForm);
  assert.equal(loggedOut.status, 200);
  assert.equal(agent.cookies.has('gatehouse_session'), false);
});

test('POST /signin shares the per-IP password budget with /login and the password grant, and keeps the device cookie', async (t) => {
  const { app, issuer } = await serve(t, { RATE_LIMIT_LOGIN_PER_MINUTE: '3' });
  await register(app, { username: 'alice' });
  const agent = new UserAgent(issuer);
  const signin = readForm(await (await agent.fetch(`${issuer}/signin`)).text(), '/signin');
  const signedIn = await agent.post(signin, { username: 'alice', password: PASSWORD });
  assert.equal(signedIn.status, 200);
  const device = signedIn.headers.getSetCookie().find((c) => c.startsWith('gatehouse_device=')) ?? '';
  assert.match(device, /HttpOnly/);
  assert.match(device, /SameSite=Strict/);
  assert.ok(agent.cookies.has('gatehouse_session'), 'the sign-in cookie too');
  // Two password checks elsewhere spend the rest of the budget of 3 ...
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${issuer}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'Wrong-password9' }) });
    assert.equal(res.status, 401);
  }
  // ... so the hosted page answers 429 (a page saying what to do), not a fourth guess.
  const other = new UserAgent(issuer);
  const again = readForm(await (await other.fetch(`${issuer}/signin`)).text(), '/signin');
  const limited = await other.post(again, { username: 'alice', password: PASSWORD });
  assert.equal(limited.status, 429);
  assert.ok(limited.headers.get('retry-after'));
});

test('the code exchange is no password check: it does not draw from the per-IP password budget', async (t) => {
  const { app, issuer } = await serve(t, { RATE_LIMIT_LOGIN_PER_MINUTE: '1' });
  await register(app, { username: 'alice' });
  const client = await createClient(app, 'web', { firstParty: true });
  const config = await rp(issuer, client);
  const { url, verifier, state, nonce } = await authorizationUrl(config, client.redirectUri);
  // The sign-in spends the whole budget of 1 ...
  const flow = await userAuthorizes(new UserAgent(issuer), url, client.redirectUri);
  assert.ok(flow.callback);
  // ... and the app's server still exchanges its code (many users' codes come from one address).
  const tokens = await oidc.authorizationCodeGrant(config, flow.callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  assert.ok(tokens.id_token);
});

test('RP-initiated logout refuses a forged id_token_hint and an unregistered post_logout_redirect_uri', async (t) => {
  const { app, issuer } = await serve(t);
  await register(app, { username: 'alice' });
  const client = await createClient(app, 'web', { firstParty: true });
  const config = await rp(issuer, client);
  const agent = new UserAgent(issuer);
  const { url, verifier, state, nonce } = await authorizationUrl(config, client.redirectUri);
  const flow = await userAuthorizes(agent, url, client.redirectUri);
  const tokens = await oidc.authorizationCodeGrant(config, flow.callback!, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });

  // Same claims, signed with a key that is not ours.
  const { SignJWT, generateKeyPair } = await import('jose');
  const { privateKey } = await generateKeyPair('RS256');
  const forged = await new SignJWT(decodeJwt(tokens.id_token!) as Record<string, unknown>)
    .setProtectedHeader({ alg: 'RS256', kid: decodeProtectedHeader(tokens.id_token!).kid! })
    .sign(privateKey);
  for (const target of [
    oidc.buildEndSessionUrl(config, { id_token_hint: forged, post_logout_redirect_uri: `${APP1}/signed-out` }),
    oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example.com/' }),
    // No hint and no client_id: nobody to check the URI against.
    new URL(`${issuer}/oauth/end-session?${new URLSearchParams({ post_logout_redirect_uri: `${APP1}/signed-out` })}`),
  ]) {
    const res = await agent.fetch(target);
    assert.equal(res.status, 400, target.toString());
    assert.equal(res.headers.get('location'), null);
  }
  // Without a hint (a link anyone could send) the user is asked first, not logged out.
  const unconfirmed = await agent.fetch(oidc.buildEndSessionUrl(config, { post_logout_redirect_uri: `${APP1}/signed-out` }));
  assert.equal(unconfirmed.status, 200);
  assert.match(await unconfirmed.text(), /action="\/oauth\/end-session"/);
  assert.equal((await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 200, 'nobody was logged out');
});

test('scopes: a client gets only the scopes it is registered for; userinfo needs openid', async (t) => {
  const { app, issuer } = await serve(t);
  await register(app, { username: 'alice' });
  const client = await createClient(app, 'narrow', { firstParty: true, scopes: ['openid'] });
  const agent = new UserAgent(issuer);
  const asked = await getCode(agent, issuer, client, { scope: 'openid email', state: 'z' });
  assert.equal(asked.callback?.searchParams.get('error'), 'invalid_scope');
  const ok = await getCode(agent, issuer, client, { scope: 'openid unknown-scope' });
  const res = await tokenRequest(issuer, { code: ok.code!, redirect_uri: client.redirectUri, code_verifier: ok.verifier }, client);
  const tokens = (await res.json()) as { scope: string; refresh_token?: string };
  assert.equal(tokens.scope, 'openid', 'unknown scopes are ignored');
  assert.equal(tokens.refresh_token, undefined, 'no offline_access, no refresh token');
  // A /login token has no openid scope: userinfo says so.
  const login = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: PASSWORD } });
  const info = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${login.json<{ access_token: string }>().access_token}` } });
  assert.equal(info.status, 403);
});

test('prompt=login, max_age and login_hint; acr and auth_time in the ID token', async (t) => {
  const { app, issuer } = await serve(t);
  await register(app, { username: 'alice' });
  const client = await createClient(app, 'web', { firstParty: true });
  const config = await rp(issuer, client);
  const agent = new UserAgent(issuer);
  const first = await authorizationUrl(config, client.redirectUri, { login_hint: 'alice@example.com' });
  const page = await agent.fetch(first.url);
  assert.match(await page.text(), /name="username"[^>]*value="alice@example.com"/, 'login_hint prefills the field');
  const signedIn = await userAuthorizes(agent, first.url, client.redirectUri);
  const t1 = await oidc.authorizationCodeGrant(config, signedIn.callback!, { pkceCodeVerifier: first.verifier, expectedState: first.state, expectedNonce: first.nonce });
  assert.equal(t1.claims()!.acr, undefined, 'no acr unless asked');

  // Signed in already: prompt=login and max_age=0 still ask for the password, once.
  for (const extra of [{ prompt: 'login' }, { max_age: '0' }] as Array<Record<string, string>>) {
    await new Promise((resolve) => setTimeout(resolve, 1100)); // auth_time has one-second resolution
    const next = await authorizationUrl(config, client.redirectUri, { ...extra, acr_values: 'urn:gatehouse:acr:pwd' });
    const flow = await userAuthorizes(agent, next.url, client.redirectUri);
    assert.deepEqual(flow.pages, ['signin'], JSON.stringify(extra));
    const tokens = await oidc.authorizationCodeGrant(config, flow.callback!, { pkceCodeVerifier: next.verifier, expectedState: next.state, expectedNonce: next.nonce, maxAge: extra.max_age ? 0 : undefined } as oidc.AuthorizationCodeGrantChecks);
    assert.ok(tokens.claims()!.auth_time! > t1.claims()!.auth_time!, 'a fresh auth_time');
    assert.equal(tokens.claims()!.acr, 'urn:gatehouse:acr:pwd');
  }
  // A generous max_age is satisfied by the session: no page.
  const quiet = await authorizationUrl(config, client.redirectUri, { max_age: '3600' });
  assert.deepEqual((await userAuthorizes(agent, quiet.url, client.redirectUri)).pages, []);
});

test('back-channel logout: a client with a logout URI gets a signed logout token naming the session', async (t) => {
  const { createServer } = await import('node:http');
  const received: string[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  const port = (receiver.address() as AddressInfo).port;

  const { app, issuer } = await serve(t);
  await register(app, { username: 'alice' });
  const client = await createClient(app, 'bcl', { firstParty: true, backchannel: `http://127.0.0.1:${port}/backchannel` });
  const config = await rp(issuer, client);
  const agent = new UserAgent(issuer);
  const { url, verifier, state, nonce } = await authorizationUrl(config, client.redirectUri);
  const flow = await userAuthorizes(agent, url, client.redirectUri);
  const tokens = await oidc.authorizationCodeGrant(config, flow.callback!, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  await agent.fetch(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token! }));
  for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(received.length, 1);
  const { payload, protectedHeader } = await jwtVerify(received[0]!, createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`)), {
    issuer,
    audience: 'bcl',
    typ: 'logout+jwt',
  });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload.sid, tokens.claims()!.sid);
  assert.equal(payload.sub, tokens.claims()!.sub);
  assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
  assert.equal(payload.nonce, undefined);
});

test('second factor: the sign-in page asks for the TOTP code after the right password; amr and acr in the ID token', async (t) => {
  const clock = new FakeClock();
  const { app, issuer } = await serve(t, {}, { clock });
  await register(app, { username: 'mfa_user' });
  const { secret: totpSecret } = await enrolTotp(app, (await login(app, 'mfa_user')).access_token, clock.now().getTime());
  clock.advance(30_000); // the activation spent the current code
  const client = await createClient(app, 'web', { firstParty: true });
  const config = await rp(issuer, client);
  const agent = new UserAgent(issuer);
  const { url, verifier, state, nonce } = await authorizationUrl(config, client.redirectUri, { acr_values: 'urn:gatehouse:acr:mfa' });
  const signin = readForm(await (await agent.fetch(url)).text(), '/signin');
  const step = await agent.post(signin, { username: 'mfa_user', password: PASSWORD });
  assert.equal(step.status, 200);
  assert.equal(agent.cookies.has('gatehouse_session'), false, 'not signed in after the password alone');
  const page = await step.text();
  assert.match(page, /name="code"/);
  const form = readForm(page, '/signin/second-factor');
  const code = codeAt(totpSecret, clock.now().getTime());
  const noCsrf = await agent.post({ ...form, fields: { mfa_token: form.fields.mfa_token!, authorize: form.fields.authorize! } }, { code });
  assert.equal(noCsrf.status, 403);
  const wrong = await agent.post(form, { code: wrongCode(totpSecret, clock.now().getTime()) });
  assert.equal(wrong.status, 401);
  assert.match(await wrong.text(), /not right/);
  const events = await app.stores.audit.list({ type: 'mfa_failed', limit: 5 });
  assert.equal(events.length, 1, 'a wrong code on the page is counted like one at /login/mfa');
  const right = await agent.follow(await agent.post(form, { code }), client.redirectUri);
  assert.ok(right.callback);
  const tokens = await oidc.authorizationCodeGrant(config, right.callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  assert.deepEqual(tokens.claims()!.amr, ['pwd', 'otp', 'mfa']);
  assert.equal(tokens.claims()!.acr, 'urn:gatehouse:acr:mfa');
});

test('keys: the JWKS holds one key per algorithm in use; gatehouse keys rotate rotates each, staged or --now, all sealed at rest', async (t) => {
  const clock = new FakeClock();
  const { app, issuer } = await serve(t, {}, { clock });
  await createClient(app, 'es', { alg: 'ES256' });
  await app.keyRings.init(['ES256', 'RS256']);
  const jwks = async () => ((await (await fetch(`${issuer}/.well-known/jwks.json`)).json()) as { keys: Array<{ alg: string; kid: string }> }).keys;
  const idTokenKid = async (alg: IdTokenAlgorithm) => (await (await app.keyRings.idTokenRing(alg)).signingKey()).kid;
  const before = await jwks();
  assert.deepEqual([...new Set(before.map((k) => k.alg))].sort(), ['ES256', 'EdDSA', 'RS256']);
  const signing = { ES256: await idTokenKid('ES256'), RS256: await idTokenKid('RS256') };

  // Staged (the default): every new key is published at once, and signs only after the activation delay.
  const staged = await app.keyRings.rotateAll();
  assert.deepEqual(staged.map((k) => k.alg).sort(), ['ES256', 'EdDSA', 'RS256']);
  const published = await jwks();
  assert.equal(published.length, 6, 'new and retired key of each algorithm');
  for (const { kid } of staged) assert.ok(published.some((k) => k.kid === kid), 'published before it signs');
  assert.equal(await idTokenKid('ES256'), signing.ES256, 'the old ES256 key still signs ID tokens');
  assert.equal(await idTokenKid('RS256'), signing.RS256, 'the old RS256 key still signs ID tokens');
  clock.advance(staged[0]!.signsFrom.getTime() - clock.now().getTime() + 1_000);
  assert.equal(await idTokenKid('ES256'), staged.find((k) => k.alg === 'ES256')!.kid, 'the new ES256 key signs after the delay');
  assert.equal(await idTokenKid('RS256'), staged.find((k) => k.alg === 'RS256')!.kid);

  // --now (an emergency): the new keys sign at once.
  const now = await app.keyRings.rotateAll({ now: true });
  assert.equal(now.length, 3);
  assert.equal(await idTokenKid('ES256'), now.find((k) => k.alg === 'ES256')!.kid, 'signs at once');

  // Every private key of every ring is sealed under the one key-encryption key.
  const rows = await (await sqlReader(t, app.dir))<{ kid: string; alg: string; private_jwk: string }>('SELECT kid, alg, private_jwk FROM signing_keys');
  const asymmetric = rows.filter((r) => ['RS256', 'ES256', 'EdDSA'].includes(r.alg));
  assert.equal(asymmetric.length, 9);
  for (const row of asymmetric) assert.ok(openStoredJwk(app, row.kid, row.private_jwk).d, `${row.alg} key ${row.kid} opens with the KEK`);
});

test('a client registered while the server runs has its ID-token key published before its first sign-in; with ALGORITHM=HS256 too', async (t) => {
  const { app, issuer } = await serve(t, { ALGORITHM: 'HS256', SECRET_KEY: 'an-hs256-test-secret-of-more-than-32-chars' });
  await register(app, { username: 'alice' });
  const jwks = () => fetch(`${issuer}/.well-known/jwks.json`);
  assert.equal((await jwks()).status, 404, 'HS256 and no OpenID Connect client: no public key at all');

  // Registered after start-up, as `gatehouse clients create` does against a running server.
  const client = await createClient(app, 'late', { alg: 'ES256', firstParty: true });
  const published = await jwks();
  assert.equal(published.status, 200, 'the key is public as soon as the client exists');
  const keys = ((await published.json()) as { keys: Array<{ kid: string; alg: string; k?: string; d?: string }> }).keys;
  assert.deepEqual(keys.map((k) => k.alg), ['ES256'], 'the ID-token key only: nothing of SECRET_KEY');
  assert.ok(keys.every((k) => k.k === undefined && k.d === undefined), 'nothing secret');

  // A relying party that fetched that set before the first sign-in knows the key it meets.
  const agent = new UserAgent(issuer);
  const { code, verifier } = await getCode(agent, issuer, client);
  assert.ok(code);
  const tokens = (await (await tokenRequest(issuer, { code, redirect_uri: client.redirectUri, code_verifier: verifier }, client)).json()) as { id_token: string };
  assert.equal(decodeProtectedHeader(tokens.id_token).kid, keys[0]!.kid, 'signed with the key published before');
});

test('the RFC 8414 metadata and OpenID Connect discovery describe one server: discovery holds every RFC 8414 field, equal', async (t) => {
  const settings: Array<Record<string, string>> = [{}, { OIDC_DYNAMIC_REGISTRATION: 'true', OIDC_REGISTRATION_TOKEN: 'initial-access-token-0123456789abcdef' }];
  for (const env of settings) {
    const { issuer } = await serve(t, env);
    const oauth = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    const openid = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    for (const [field, value] of Object.entries(oauth)) assert.deepEqual(openid[field], value, `${field} (${JSON.stringify(env)})`);
    assert.ok((oauth.grant_types_supported as string[]).includes('urn:gatehouse:params:oauth:grant-type:mfa-otp'));
    assert.equal(oauth.registration_endpoint, 'OIDC_DYNAMIC_REGISTRATION' in env ? `${issuer}/oauth/register` : undefined);
  }
});

test('dynamic client registration: off by default; with the setting it needs the initial access token', async (t) => {
  const off = await serve(t);
  assert.equal((await fetch(`${off.issuer}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 404);

  const token = 'initial-access-token-0123456789abcdef';
  const { app, issuer } = await serve(t, { OIDC_DYNAMIC_REGISTRATION: 'true', OIDC_REGISTRATION_TOKEN: token });
  await register(app, { username: 'alice' });
  const meta = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { registration_endpoint: string };
  assert.equal(meta.registration_endpoint, `${issuer}/oauth/register`);
  const body = JSON.stringify({ redirect_uris: ['http://127.0.0.1:9999/cb'], token_endpoint_auth_method: 'none', client_name: 'MCP client', scope: 'openid profile' });
  const anonymous = await fetch(`${issuer}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(anonymous.status, 401);
  const bad = await fetch(`${issuer}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ redirect_uris: ['javascript:alert(1)'] }),
  });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: string }).error, 'invalid_redirect_uri');
  const created = await fetch(`${issuer}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
  assert.equal(created.status, 201);
  const registered = (await created.json()) as { client_id: string; client_secret?: string; scope: string };
  assert.equal(registered.client_secret, undefined);
  assert.equal(registered.scope, 'openid profile');
  // The new client works, with consent (it is third-party).
  const flow = await getCode(new UserAgent(issuer), issuer, { id: registered.client_id, redirectUri: 'http://127.0.0.1:9999/cb' });
  assert.deepEqual(flow.flow.pages, ['signin', 'consent']);
  assert.ok(flow.code);
});

/** A well-formed WebAuthn assertion for `challenge` that no authenticator made (an unknown credential, a bad signature). */
function forgedAssertion(challenge: string, id = 'AAAAAAAAAAAAAAAAAAAAAA'): string {
  const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: 'http://localhost' })).toString('base64url');
  return JSON.stringify({ id, rawId: id, type: 'public-key', clientExtensionResults: {}, response: { clientDataJSON: clientData, authenticatorData: 'AAAA', signature: 'AAAA' } });
}

async function passkeyOptions(agent: UserAgent, body: Record<string, string>, origin: string | null = agent.origin): Promise<Response> {
  return agent.fetch('/signin/passkey/options', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) },
    body: JSON.stringify(body),
  });
}

test('passkeys at the pages: a hidden form and one script file named by the CSP; options and the form need the CSRF token; a forged assertion is refused', async (t) => {
  const { app, issuer } = await serve(t, {}, { host: 'localhost' });
  await register(app, { username: 'alice' });
  const client = await createClient(app, 'web', { firstParty: true });
  const agent = new UserAgent(issuer);
  const { url } = await authorizationUrl(await rp(issuer, client), client.redirectUri);
  const page = await agent.fetch(url);
  const html = await page.text();
  const csp = String(page.headers.get('content-security-policy'));
  assert.match(csp, new RegExp(`script-src ${issuer}/signin/passkey\\.js;`), 'the one script, by its exact URL (no inline script, no \'self\')');
  assert.match(csp, /connect-src 'self';/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(html, /<form method="post" action="\/signin\/passkey" id="gh-passkey" class="gh-passkey" hidden /, 'hidden until the script shows it');
  assert.match(html, /<script src="\/signin\/passkey\.js" defer><\/script>/);
  assert.match(html, /autocomplete="username webauthn"/);
  const script = await agent.fetch('/signin/passkey.js');
  assert.equal(script.status, 200);
  assert.match(String(script.headers.get('content-type')), /^text\/javascript/);
  assert.match(await script.text(), /mediation: 'conditional'/);

  const form = readForm(html, '/signin/passkey');
  const csrf = form.fields.csrf_token!;
  assert.ok(form.fields.authorize, 'the authorization request rides along');
  // Options: the page's CSRF token, from the page's origin.
  assert.equal((await passkeyOptions(agent, {} as Record<string, string>)).status, 400);
  assert.equal((await passkeyOptions(agent, { csrf_token: 'x'.repeat(43) })).status, 403);
  assert.equal((await passkeyOptions(agent, { csrf_token: csrf }, 'https://evil.example.com')).status, 403);
  const options = await passkeyOptions(agent, { csrf_token: csrf });
  assert.equal(options.status, 200);
  assert.equal(options.headers.get('cache-control'), 'no-store');
  const body = (await options.json()) as { challenge: string; allowCredentials?: unknown; userVerification: string; rpId: string };
  assert.equal(body.allowCredentials, undefined, 'username-less: discoverable credentials');
  assert.equal(body.userVerification, 'required');
  assert.equal(body.rpId, 'localhost');

  // The form: without its CSRF token, or from another origin, nothing happens.
  const noCsrf = await agent.post({ ...form, fields: { authorize: form.fields.authorize! } }, { response: forgedAssertion(body.challenge) });
  assert.equal(noCsrf.status, 403);
  const crossSite = await agent.post(form, { response: forgedAssertion(body.challenge) }, { origin: 'https://evil.example.com' });
  assert.equal(crossSite.status, 403);
  // Not a WebAuthn response at all, and a forged one: the sign-in page again, saying what to do.
  const garbage = await agent.post(form, { response: '{"id":1}' });
  assert.equal(garbage.status, 401);
  assert.match(await garbage.text(), /passkey was not accepted/);
  const forged = await agent.post(form, { response: forgedAssertion(body.challenge) });
  assert.equal(forged.status, 401);
  const again = await forged.text();
  assert.match(again, /passkey was not accepted/);
  assert.match(again, /action="\/signin"/, 'the password form is still there');
  assert.equal(agent.cookies.has('gatehouse_session'), false, 'not signed in');
  const failures = await app.stores.audit.list({ type: 'login_failed', limit: 5 });
  assert.match(JSON.stringify(failures[0]?.detail), /passkey_unknown/);
});

test('passkeys at the pages: off where the pages cannot use them (a bare IP PUBLIC_URL, or the 127.0.0.1 default): no form, no script in the CSP, no endpoints', async (t) => {
  // 192.0.2.10: no passkeys at all. 127.0.0.1: passkeys for the API (RP id localhost), not for pages served at the IP.
  for (const publicUrl of ['http://192.0.2.10:8000', 'http://127.0.0.1:8000']) {
    const app = await buildTestApp(t, { PUBLIC_URL: publicUrl });
    const page = await app.app.inject({ method: 'GET', url: '/signin' });
    assert.equal(page.statusCode, 200);
    assert.doesNotMatch(page.body, /gh-passkey/, publicUrl);
    assert.match(String(page.headers['content-security-policy']), /script-src 'none'/);
    assert.equal((await app.app.inject({ method: 'POST', url: '/signin/passkey', payload: {} })).statusCode, 404);
    assert.equal((await app.app.inject({ method: 'POST', url: '/signin/passkey/options', payload: {} })).statusCode, 404);
  }
  const api = await buildTestApp(t, { PUBLIC_URL: 'http://127.0.0.1:8000' });
  assert.equal((await api.app.inject({ method: 'POST', url: '/webauthn/login/options', payload: {} })).statusCode, 200, 'the API keeps its passkeys');
});

test('passkeys at the pages: the second page offers a passkey only to users with one; a refused one counts like a wrong code', async (t) => {
  const clock = new FakeClock();
  const { app, issuer } = await serve(t, {}, { clock, host: 'localhost' });
  await register(app, { username: 'mfa_user' });
  await enrolTotp(app, (await login(app, 'mfa_user')).access_token, clock.now().getTime());
  const client = await createClient(app, 'web', { firstParty: true });
  const agent = new UserAgent(issuer);
  const { url } = await authorizationUrl(await rp(issuer, client), client.redirectUri);
  const signin = readForm(await (await agent.fetch(url)).text(), '/signin');
  const step = await agent.post(signin, { username: 'mfa_user', password: PASSWORD });
  const page = await step.text();
  const second = readForm(page, '/signin/second-factor');
  assert.equal(second.fields.factors, 'totp recovery_code');
  assert.doesNotMatch(page, /gh-passkey/, 'no passkey, no passkey button');
  assert.match(String(step.headers.get('content-security-policy')), /script-src 'none'/);
  // A forged "passkey instead" (the form the page did not offer) is refused and counted against the mfa_token.
  const csrf = second.fields.csrf_token!;
  const mfaToken = second.fields.mfa_token!;
  const options = await passkeyOptions(agent, { csrf_token: csrf, mfa_token: mfaToken });
  assert.equal(options.status, 200);
  const { challenge, allowCredentials } = (await options.json()) as { challenge: string; allowCredentials: unknown[] };
  assert.deepEqual(allowCredentials, [], 'the user has no passkey');
  // The page's mfa_token belongs to the pages, not to the API's default client.
  const api = await fetch(`${issuer}/webauthn/login/options`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mfa_token: mfaToken }) });
  assert.equal(api.status, 401);
  const passkeyForm = { action: '/signin/passkey', fields: { csrf_token: csrf, mfa_token: mfaToken, authorize: second.fields.authorize!, factors: 'totp webauthn recovery_code' } };
  const refused = await agent.post(passkeyForm, { response: forgedAssertion(challenge) });
  assert.equal(refused.status, 401);
  const refusedPage = await refused.text();
  assert.match(refusedPage, /passkey was not accepted\. Try again, or enter a code/);
  assert.match(refusedPage, /Use a passkey instead/, 'the page keeps offering what the form said');
  const events = await app.stores.audit.list({ type: 'mfa_failed', limit: 10 });
  assert.equal(events.length, 1);
  assert.match(JSON.stringify(events[0]!.detail), /passkey_refused/);
  // Four more: the mfa_token is dead, back to the password.
  for (let i = 0; i < 4; i++) await agent.post(passkeyForm, { response: forgedAssertion(challenge) });
  const dead = await agent.post(passkeyForm, { response: forgedAssertion(challenge) });
  assert.equal(dead.status, 401);
  assert.match(await dead.text(), /Sign in again/);
  assert.equal(agent.cookies.has('gatehouse_session'), false);
});

test('passkeys at the pages: POST /signin/passkey draws from the per-IP password budget shared with /signin and /login', async (t) => {
  const { app, issuer } = await serve(t, { RATE_LIMIT_LOGIN_PER_MINUTE: '3' }, { host: 'localhost' });
  await register(app, { username: 'alice' });
  const agent = new UserAgent(issuer);
  const html = await (await agent.fetch('/signin')).text();
  const passkey = readForm(html, '/signin/passkey');
  const password = readForm(html, '/signin');
  assert.equal((await agent.post(passkey, { response: forgedAssertion('abc') })).status, 401);
  assert.equal((await agent.post(password, { username: 'alice', password: 'Wrong-password9' })).status, 401);
  assert.equal((await agent.post(passkey, { response: forgedAssertion('abc') })).status, 401);
  const limited = await agent.post(passkey, { response: forgedAssertion('abc') });
  assert.equal(limited.status, 429);
  assert.ok(limited.headers.get('retry-after'));
  assert.equal((await fetch(`${issuer}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) })).status, 429);
});
