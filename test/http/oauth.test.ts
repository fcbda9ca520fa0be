/**
 * The OAuth 2.0 endpoints as independent clients see them: oauth4webapi (a strict RFC
 * 6749/7009/7662/8414 client) talks to the server over real HTTP on loopback, and jose's
 * remote JWKS verifies access tokens the way a resource server would. Nothing here reads
 * the server's internals to decide what is right; the database is the real one.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import {
  ClientSecretBasic,
  ClientSecretPost,
  None,
  ResponseBodyError,
  WWWAuthenticateChallengeError,
  allowInsecureRequests,
  clientCredentialsGrantRequest,
  discoveryRequest,
  genericTokenEndpointRequest,
  introspectionRequest,
  processClientCredentialsResponse,
  processDiscoveryResponse,
  processGenericTokenEndpointResponse,
  processIntrospectionResponse,
  processRefreshTokenResponse,
  processRevocationResponse,
  refreshTokenGrantRequest,
  revocationRequest,
  type AuthorizationServer,
  type Client,
  type ClientAuth,
  type TokenEndpointResponse,
  type WWWAuthenticateChallenge,
} from 'oauth4webapi';
import { FakeClock, PASSWORD, buildTestApp, freshIp, register, type TestApp } from '../helpers/app.js';
import type { Clock } from '../../src/services/ports.js';

/** The server is plain http on loopback; oauth4webapi refuses that unless told. */
const INSECURE = { [allowInsecureRequests]: true } as const;
const PUBLIC_CLIENT: Client = { client_id: 'gatehouse' };
const API_AUDIENCE = 'https://api.example.com';

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
  /** PUBLIC_URL, which is also the listen address. */
  issuer: string;
}

/**
 * The app listening on a real port whose PUBLIC_URL is that address. The per-IP limit on
 * /oauth/token is raised (every request here comes from 127.0.0.1) except where a test
 * measures it.
 */
async function serve(t: TestContext, env: Record<string, string> = {}, options: { clock?: Clock } = {}): Promise<Served> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const app = await buildTestApp(t, { PUBLIC_URL: issuer, PORT: String(port), RATE_LIMIT_LOGIN_PER_MINUTE: '1000', ...env }, options);
  await app.app.listen({ host: '127.0.0.1', port });
  return { app, issuer };
}

async function discover(issuer: string): Promise<AuthorizationServer> {
  const url = new URL(issuer);
  return processDiscoveryResponse(url, await discoveryRequest(url, { algorithm: 'oauth2', ...INSECURE }));
}

async function serveAndDiscover(t: TestContext, env: Record<string, string> = {}, options: { clock?: Clock } = {}) {
  const served = await serve(t, env, options);
  return { ...served, as: await discover(served.issuer) };
}

function assertNoStore(res: Response, what: string): void {
  assert.equal(res.headers.get('cache-control'), 'no-store', `${what}: Cache-Control`);
}

/** A password grant through oauth4webapi; the raw response's headers are checked first. */
async function passwordGrant(
  as: AuthorizationServer,
  client: Client,
  auth: ClientAuth,
  username: string,
  password = PASSWORD,
): Promise<TokenEndpointResponse> {
  const res = await genericTokenEndpointRequest(as, client, auth, 'password', { username, password }, INSECURE);
  assertNoStore(res, 'password grant');
  return processGenericTokenEndpointResponse(as, client, res);
}

async function refreshGrant(as: AuthorizationServer, client: Client, auth: ClientAuth, refreshToken: string): Promise<TokenEndpointResponse> {
  const res = await refreshTokenGrantRequest(as, client, auth, refreshToken, INSECURE);
  assertNoStore(res, 'refresh grant');
  return processRefreshTokenResponse(as, client, res);
}

interface OAuthFailure {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
  /** Set when oauth4webapi saw a WWW-Authenticate challenge (it does on every 401 here). */
  challenges?: WWWAuthenticateChallenge[];
}

/** The OAuth error oauth4webapi rejected with; fails when the operation succeeded. */
async function failure(operation: Promise<unknown>): Promise<OAuthFailure> {
  try {
    await operation;
  } catch (error) {
    if (error instanceof ResponseBodyError) {
      return { status: error.status, body: error.cause, headers: error.response.headers };
    }
    if (error instanceof WWWAuthenticateChallengeError) {
      return { status: error.status, body: await jsonBody(error.response), headers: error.response.headers, challenges: error.cause };
    }
    throw error;
  }
  return assert.fail('expected an OAuth error response');
}

/** RFC 6749 §5.2: the error code and a description, nothing else. */
function assertOAuthError(failed: OAuthFailure, status: number, error: string): void {
  assert.equal(failed.status, status, JSON.stringify(failed.body));
  assert.equal(failed.body.error, error);
  assert.deepEqual(Object.keys(failed.body).sort(), ['error', 'error_description']);
  assert.equal(typeof failed.body.error_description, 'string');
}

/** A form POST with no client authentication at all, as curl or an old script would send. */
function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(form),
  });
}

/** A JSON object body (the fetch typings say `unknown`). */
async function jsonBody(res: Response): Promise<Record<string, unknown>> {
  const body: unknown = await res.json();
  assert.ok(body !== null && typeof body === 'object' && !Array.isArray(body), 'a JSON object');
  return body as Record<string, unknown>;
}

function getMe(issuer: string, accessToken: string): Promise<Response> {
  return fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
}

function remoteJwks(as: AuthorizationServer) {
  assert.ok(as.jwks_uri, 'jwks_uri is published');
  return createRemoteJWKSet(new URL(as.jwks_uri));
}

async function confidentialClient(app: TestApp, id: string, grantTypes: ('password' | 'refresh_token')[] = ['password', 'refresh_token']) {
  const { client, secret } = await app.clients.create({ id, grantTypes, audience: API_AUDIENCE, confidential: true, now: new Date() });
  assert.ok(secret, 'a confidential client gets a secret');
  return { metadata: { client_id: client.id } satisfies Client, secret };
}

test('discovery: RFC 8414 metadata under PUBLIC_URL, accepted by oauth4webapi', async (t) => {
  const { issuer } = await serve(t);
  const raw = await fetch(`${issuer}/.well-known/oauth-authorization-server`);
  assert.equal(raw.status, 200);
  assert.match(String(raw.headers.get('content-type')), /^application\/json/);
  assert.match(String(raw.headers.get('cache-control')), /max-age=\d+/);
  const metadata = (await raw.json()) as {
    issuer: string;
    token_endpoint: string;
    revocation_endpoint: string;
    introspection_endpoint: string;
    jwks_uri: string;
    grant_types_supported: string[];
    token_endpoint_auth_methods_supported: string[];
    introspection_endpoint_auth_methods_supported: string[];
  };
  assert.equal(metadata.issuer, issuer);
  assert.equal(metadata.token_endpoint, `${issuer}/oauth/token`);
  assert.equal(metadata.revocation_endpoint, `${issuer}/oauth/revoke`);
  assert.equal(metadata.introspection_endpoint, `${issuer}/oauth/introspect`);
  assert.equal(metadata.jwks_uri, `${issuer}/.well-known/jwks.json`);
  assert.deepEqual([...metadata.grant_types_supported].sort(), ['authorization_code', 'password', 'refresh_token', 'urn:gatehouse:params:oauth:grant-type:mfa-otp']);
  assert.deepEqual([...metadata.token_endpoint_auth_methods_supported].sort(), ['client_secret_basic', 'client_secret_post', 'none']);
  assert.ok(!metadata.introspection_endpoint_auth_methods_supported.includes('none'), 'introspection needs a secret');

  const as = await discover(issuer);
  assert.equal(as.issuer, issuer);
  assert.equal(as.token_endpoint, `${issuer}/oauth/token`);
  // The published jwks_uri serves the key set.
  const jwks = await fetch(as.jwks_uri!);
  assert.equal(jwks.status, 200);
  assert.ok(((await jwks.json()) as { keys: unknown[] }).keys.length >= 1);
});

test('password grant with the default public client, verified by a resource server through the JWKS', async (t) => {
  const { app, issuer, as } = await serveAndDiscover(t);
  const user = await register(app, { username: 'alice' });

  const tokens = await passwordGrant(as, PUBLIC_CLIENT, None(), 'alice');
  assert.equal(tokens.token_type, 'bearer');
  assert.equal(tokens.expires_in, 1800);
  assert.ok(tokens.refresh_token);

  const { payload, protectedHeader } = await jwtVerify(tokens.access_token, remoteJwks(as), {
    issuer,
    audience: 'gatehouse',
    typ: 'at+jwt',
    algorithms: ['EdDSA'],
  });
  assert.equal(protectedHeader.typ, 'at+jwt');
  assert.ok(protectedHeader.kid);
  assert.equal(payload.client_id, 'gatehouse');
  assert.equal(payload.sub, String(user.id));
  assert.equal(payload.username, 'alice');

  const meRes = await getMe(issuer, tokens.access_token);
  assert.equal(meRes.status, 200);
  assert.equal((await jsonBody(meRes)).username, 'alice');

  // No client named at all: the default public client.
  const plain = await postForm(`${issuer}/oauth/token`, { grant_type: 'password', username: 'alice', password: PASSWORD });
  assert.equal(plain.status, 200);
  assertNoStore(plain, 'plain form POST');
  const body = await jsonBody(plain);
  assert.deepEqual(Object.keys(body).sort(), ['access_token', 'device_token', 'expires_in', 'refresh_token', 'token_type']);
  assert.equal(body.token_type, 'bearer');
  assert.equal(typeof body.access_token, 'string');
  const plainAccess = body.access_token as string;
  const claims = decodeJwt(plainAccess);
  assert.equal(claims.client_id, 'gatehouse');
  assert.equal(claims.aud, 'gatehouse');
  assert.equal((await getMe(issuer, plainAccess)).status, 200);
});

test('refresh grant rotates; the old token replayed after the grace window is invalid_grant', async (t) => {
  const { issuer, app, as } = await serveAndDiscover(t, { REFRESH_REUSE_GRACE_SECONDS: '0' });
  await register(app, { username: 'bob' });
  const first = await passwordGrant(as, PUBLIC_CLIENT, None(), 'bob');

  const second = await refreshGrant(as, PUBLIC_CLIENT, None(), first.refresh_token!);
  assert.ok(second.refresh_token);
  assert.notEqual(second.refresh_token, first.refresh_token, 'rotated');
  assert.notEqual(second.access_token, first.access_token);
  assert.equal(decodeJwt(second.access_token).sid, decodeJwt(first.access_token).sid, 'same session');
  assert.equal((await getMe(issuer, second.access_token)).status, 200);

  await sleep(20); // past the 0 s grace window
  const replay = await failure(refreshGrant(as, PUBLIC_CLIENT, None(), first.refresh_token!));
  assertOAuthError(replay, 400, 'invalid_grant');
  assert.equal(replay.headers.get('cache-control'), 'no-store');
  // Reuse revoked the family: the child is dead too.
  assertOAuthError(await failure(refreshGrant(as, PUBLIC_CLIENT, None(), second.refresh_token!)), 400, 'invalid_grant');
});

test('a confidential client (client_secret_basic and client_secret_post) gets tokens for its own audience', async (t) => {
  const { issuer, app, as } = await serveAndDiscover(t);
  await register(app, { username: 'carol' });
  const { metadata, secret } = await confidentialClient(app, 'reporting-api');
  const jwks = remoteJwks(as);

  for (const [method, auth] of [
    ['client_secret_basic', ClientSecretBasic(secret)],
    ['client_secret_post', ClientSecretPost(secret)],
  ] as const) {
    const tokens = await passwordGrant(as, metadata, auth, 'carol');
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer, audience: API_AUDIENCE, typ: 'at+jwt', algorithms: ['EdDSA'] });
    assert.equal(payload.aud, API_AUDIENCE, method);
    assert.equal(payload.client_id, 'reporting-api', method);
    // A resource server expecting Gatehouse's own audience refuses it...
    await assert.rejects(
      jwtVerify(tokens.access_token, jwks, { issuer, audience: 'gatehouse', typ: 'at+jwt', algorithms: ['EdDSA'] }),
      joseErrors.JWTClaimValidationFailed,
    );
    // ...and so does Gatehouse's own API.
    const meRes = await getMe(issuer, tokens.access_token);
    assert.equal(meRes.status, 401, method);
    assert.match(String(meRes.headers.get('www-authenticate')), /^Bearer .*error="invalid_token"/);

    // Its refresh token works for it, and the new access token keeps the audience.
    const next = await refreshGrant(as, metadata, auth, tokens.refresh_token!);
    assert.equal(decodeJwt(next.access_token).aud, API_AUDIENCE, method);
    assert.equal(decodeJwt(next.access_token).client_id, 'reporting-api', method);
  }
});

test('revocation (RFC 7009): refresh token ends the session, access token only itself, unknown token 200', async (t) => {
  const { issuer, app, as } = await serveAndDiscover(t);
  await register(app, { username: 'dave' });
  const revoke = async (token: string, auth: ClientAuth = None(), client: Client = PUBLIC_CLIENT, hint?: string) => {
    const res = await revocationRequest(as, client, auth, token, {
      ...INSECURE,
      ...(hint ? { additionalParameters: { token_type_hint: hint } } : {}),
    });
    assert.equal(res.status, 200);
    assert.equal(await processRevocationResponse(res), undefined);
  };

  // A refresh token: the whole session goes.
  const a = await passwordGrant(as, PUBLIC_CLIENT, None(), 'dave');
  assert.equal((await getMe(issuer, a.access_token)).status, 200);
  await revoke(a.refresh_token!);
  assertOAuthError(await failure(refreshGrant(as, PUBLIC_CLIENT, None(), a.refresh_token!)), 400, 'invalid_grant');
  assert.equal((await getMe(issuer, a.access_token)).status, 401);

  // An access token: that token only; the session's refresh token still works.
  const b = await passwordGrant(as, PUBLIC_CLIENT, None(), 'dave');
  await revoke(b.access_token, None(), PUBLIC_CLIENT, 'access_token');
  const meRes = await getMe(issuer, b.access_token);
  assert.equal(meRes.status, 401);
  assert.match(String(meRes.headers.get('www-authenticate')), /error="invalid_token"/);
  const b2 = await refreshGrant(as, PUBLIC_CLIENT, None(), b.refresh_token!);
  assert.equal((await getMe(issuer, b2.access_token)).status, 200);

  // Unknown tokens: 200, nothing to do.
  await revoke('ghr_not-a-token-we-issued');
  await revoke('garbage', None(), PUBLIC_CLIENT, 'access_token');

  // Another client's token: 200, and nothing changes.
  const other = await confidentialClient(app, 'other-app');
  await revoke(b2.refresh_token!, ClientSecretBasic(other.secret), other.metadata);
  await revoke(b2.access_token, ClientSecretBasic(other.secret), other.metadata, 'access_token');
  assert.equal((await getMe(issuer, b2.access_token)).status, 200);
  await refreshGrant(as, PUBLIC_CLIENT, None(), b2.refresh_token!);
});

test('introspection (RFC 7662): active tokens described, inactive ones exactly {"active":false}, secret required', async (t) => {
  const clock = new FakeClock();
  const { issuer, app, as } = await serveAndDiscover(t, {}, { clock });
  const user = await register(app, { username: 'erin' });
  const rs = await confidentialClient(app, 'resource-server');
  const introspect = async (token: string, auth: ClientAuth = ClientSecretBasic(rs.secret)) => {
    const res = await introspectionRequest(as, rs.metadata, auth, token, INSECURE);
    const raw = res.status === 200 ? JSON.parse(await res.clone().text()) : undefined;
    return { result: await processIntrospectionResponse(as, rs.metadata, res), raw, res };
  };
  // Tokens issued to the resource server itself (for its audience): others are not its business.
  const tokens = await passwordGrant(as, rs.metadata, ClientSecretBasic(rs.secret), 'erin');

  const access = await introspect(tokens.access_token);
  assertNoStore(access.res, 'introspection');
  const claims = decodeJwt(tokens.access_token);
  assert.equal(access.result.active, true);
  assert.equal(access.result.token_type, 'access_token');
  assert.equal(access.result.sub, String(user.id));
  assert.equal(access.result.client_id, 'resource-server');
  assert.equal(access.result.iss, issuer);
  assert.equal(access.result.exp, claims.exp);
  assert.equal(access.result.username, 'erin');

  const viaPost = await introspect(tokens.access_token, ClientSecretPost(rs.secret));
  assert.equal(viaPost.result.active, true);

  const refresh = await introspect(tokens.refresh_token!);
  assert.equal(refresh.result.active, true);
  assert.equal(refresh.result.token_type, 'refresh_token');
  assert.equal(refresh.result.sub, String(user.id));
  assert.equal(refresh.result.client_id, 'resource-server');
  assert.equal(typeof refresh.result.exp, 'number');

  // Inactive: revoked, garbage, expired. Nothing but "active".
  const revoked = await passwordGrant(as, rs.metadata, ClientSecretBasic(rs.secret), 'erin');
  const revokeRes = await revocationRequest(as, rs.metadata, ClientSecretBasic(rs.secret), revoked.access_token, INSECURE);
  await processRevocationResponse(revokeRes);
  for (const [what, token] of [
    ['revoked access token', revoked.access_token],
    ['garbage', 'not.a.token'],
    ['unknown refresh token', 'ghr_nothing-like-this'],
  ] as const) {
    const inactive = await introspect(token);
    assert.deepEqual(inactive.raw, { active: false }, what);
    assert.deepEqual(inactive.result, { active: false }, what);
  }
  clock.advance(31 * 60_000); // past the 30 min lifetime and the 30 s clock skew
  const expired = await introspect(tokens.access_token);
  assert.deepEqual(expired.raw, { active: false }, 'expired access token');

  // Introspection needs a confidential client.
  const anonymous = await postForm(`${issuer}/oauth/introspect`, { token: tokens.refresh_token! });
  assert.equal(anonymous.status, 401);
  assert.ok(anonymous.headers.get('www-authenticate'));
  assert.equal((await jsonBody(anonymous)).error, 'invalid_client');
  const publicClient = await failure(
    introspectionRequest(as, PUBLIC_CLIENT, None(), tokens.refresh_token!, INSECURE).then((res) => processIntrospectionResponse(as, PUBLIC_CLIENT, res)),
  );
  assertOAuthError(publicClient, 401, 'invalid_client');
  assert.ok(publicClient.challenges && publicClient.challenges.length > 0, 'WWW-Authenticate on 401');
  const wrongSecret = await failure(introspect(tokens.refresh_token!, ClientSecretBasic('not-the-secret')));
  assertOAuthError(wrongSecret, 401, 'invalid_client');
});

test('token endpoint errors: RFC 6749 §5.2 codes, statuses, no-store, and refused refreshes leave the token alone', async (t) => {
  const { issuer, app, as } = await serveAndDiscover(t, { REFRESH_REUSE_GRACE_SECONDS: '0' });
  await register(app, { username: 'frank' });
  const a = await confidentialClient(app, 'client-a');
  const b = await confidentialClient(app, 'client-b');
  const refreshOnly = await confidentialClient(app, 'refresh-only', ['refresh_token']);
  const tokenEndpoint = `${issuer}/oauth/token`;

  // Wrong client secret: 401 invalid_client with a challenge, both ways of sending it.
  for (const auth of [ClientSecretBasic('wrong-secret'), ClientSecretPost('wrong-secret')]) {
    const res = await genericTokenEndpointRequest(as, a.metadata, auth, 'password', { username: 'frank', password: PASSWORD }, INSECURE);
    assertNoStore(res, 'invalid_client');
    assert.ok(res.headers.get('www-authenticate'), 'WWW-Authenticate on 401');
    const failed = await failure(processGenericTokenEndpointResponse(as, a.metadata, res));
    assertOAuthError(failed, 401, 'invalid_client');
    assert.ok(failed.challenges && failed.challenges.length > 0);
  }

  // Another client's refresh token: invalid_grant, and the token is left as it was.
  const issued = await passwordGrant(as, a.metadata, ClientSecretBasic(a.secret), 'frank');
  assertOAuthError(await failure(refreshGrant(as, b.metadata, ClientSecretBasic(b.secret), issued.refresh_token!)), 400, 'invalid_grant');
  assertOAuthError(await failure(refreshGrant(as, PUBLIC_CLIENT, None(), issued.refresh_token!)), 400, 'invalid_grant');
  const plainRefresh = await postForm(tokenEndpoint, { grant_type: 'refresh_token', refresh_token: issued.refresh_token! });
  assert.equal(plainRefresh.status, 400);
  assert.equal((await jsonBody(plainRefresh)).error, 'invalid_grant');
  // With a 0 s grace window, had a refused attempt rotated the token this would be reuse.
  await sleep(20);
  const rotated = await refreshGrant(as, a.metadata, ClientSecretBasic(a.secret), issued.refresh_token!);
  assert.notEqual(rotated.refresh_token, issued.refresh_token);
  assert.equal(decodeJwt(rotated.access_token).client_id, 'client-a');

  // Missing grant_type.
  const missing = await postForm(tokenEndpoint, { username: 'frank', password: PASSWORD });
  assert.equal(missing.status, 400);
  assertNoStore(missing, 'missing grant_type');
  const missingBody = await jsonBody(missing);
  assert.equal(missingBody.error, 'invalid_request');
  assert.deepEqual(Object.keys(missingBody).sort(), ['error', 'error_description']);

  // A grant this server does not do.
  const ccRes = await clientCredentialsGrantRequest(as, a.metadata, ClientSecretBasic(a.secret), {}, INSECURE);
  assertNoStore(ccRes, 'unsupported_grant_type');
  assertOAuthError(await failure(processClientCredentialsResponse(as, a.metadata, ccRes)), 400, 'unsupported_grant_type');

  // A client not allowed the password grant.
  assertOAuthError(
    await failure(passwordGrant(as, refreshOnly.metadata, ClientSecretBasic(refreshOnly.secret), 'frank')),
    400,
    'unauthorized_client',
  );

  // Wrong password (and unknown user alike).
  assertOAuthError(await failure(passwordGrant(as, PUBLIC_CLIENT, None(), 'frank', 'WrongPassword1')), 400, 'invalid_grant');
  assertOAuthError(await failure(passwordGrant(as, PUBLIC_CLIENT, None(), 'nobody-here')), 400, 'invalid_grant');

  // Missing username/password or refresh_token.
  const noPassword = await postForm(tokenEndpoint, { grant_type: 'password', username: 'frank' });
  assert.equal(noPassword.status, 400);
  assertNoStore(noPassword, 'missing password');
  assert.equal((await jsonBody(noPassword)).error, 'invalid_request');
});

test('the per-IP rate limit applies to /oauth/token: the 6th password grant in a minute is 429 with Retry-After', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'gina' });
  const ip = freshIp();
  const grant = (remoteAddress: string) =>
    app.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'password', username: 'gina', password: PASSWORD }).toString(),
      remoteAddress,
    });
  for (let i = 1; i <= 5; i++) {
    const res = await grant(ip);
    assert.equal(res.statusCode, 200, `request ${i}: ${res.body}`);
    assert.equal(res.headers['ratelimit-limit'], '5');
  }
  const limited = await grant(ip);
  assert.equal(limited.statusCode, 429, limited.body);
  const retryAfter = Number(limited.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers['retry-after']}`);
  assert.equal(limited.headers['cache-control'], 'no-store');
  const body = limited.json() as Record<string, unknown>;
  assert.equal(body.error, 'temporarily_unavailable');
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description']);
  // Counted per address: another one is still served.
  assert.equal((await grant(freshIp())).statusCode, 200);
});

test('key rotation as a resource server sees it: the new kid is fetched, the old token still verifies', async (t) => {
  const { issuer, app, as } = await serveAndDiscover(t);
  await register(app, { username: 'hank' });
  // jose refetches the JWKS on an unknown kid, but by default at most once per 30 s
  // (cooldownDuration); without 0 here the post-rotation token would wait that long.
  const jwks = createRemoteJWKSet(new URL(as.jwks_uri!), { cooldownDuration: 0 });
  const verify = (token: string) => jwtVerify(token, jwks, { issuer, audience: 'gatehouse', typ: 'at+jwt', algorithms: ['EdDSA'] });

  const before = await passwordGrant(as, PUBLIC_CLIENT, None(), 'hank');
  const oldKid = (await verify(before.access_token)).protectedHeader.kid;
  assert.ok(oldKid);

  // The emergency path (keys rotate --now): the staged one is in security-review-storage.test.ts.
  const newKid = (await app.keys.rotate({ now: true })).kid;
  assert.notEqual(newKid, oldKid);
  const after = await refreshGrant(as, PUBLIC_CLIENT, None(), before.refresh_token!);
  assert.equal(decodeProtectedHeader(after.access_token).kid, newKid, 'signed with the new key');
  assert.equal((await verify(after.access_token)).protectedHeader.kid, newKid);
  assert.equal((await verify(before.access_token)).protectedHeader.kid, oldKid, 'the retired key is still published');

  // The access-token keys (the JWKS also holds the OpenID Connect ID-token keys, RS256).
  const published = ((await (await fetch(as.jwks_uri!)).json()) as { keys: { kid: string; alg: string }[] }).keys
    .filter((k) => k.alg === 'EdDSA')
    .map((k) => k.kid)
    .sort();
  assert.deepEqual(published, [oldKid, newKid].sort());
  assert.equal((await getMe(issuer, after.access_token)).status, 200);
  assert.equal((await getMe(issuer, before.access_token)).status, 200);
});
