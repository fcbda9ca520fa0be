/**
 * @gatehouse/node's verifier, guards and HTTP glue, against a real Gatehouse over real HTTP
 * (its JWKS, its tokens), plus tokens forged with jose for the checks Gatehouse never fails.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import Fastify from 'fastify';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair, type JWTVerifyGetKey } from 'jose';
import {
  TokenError,
  createVerifier,
  expressAuth,
  fastifyAuth,
  fastifyGuard,
  requireAuthentication,
  requireScope,
  type AccessTokenClaims,
} from '../../packages/node/src/index.js';
import { buildTestApp, login, register, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/processes.js';

/** Gatehouse listening where its PUBLIC_URL (the issuer) says. */
async function liveGatehouse(t: TestContext, env: Record<string, string> = {}): Promise<{ app: TestApp; url: string; token: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = await buildTestApp(t, { PUBLIC_URL: url, ...env });
  await register(app, { username: 'rs_user' });
  await app.app.listen({ host: '127.0.0.1', port });
  const { access_token } = await login(app, 'rs_user');
  return { app, url, token: access_token };
}

async function rejects(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TokenError, `a TokenError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

/** A key set of our own, to forge tokens Gatehouse would never issue. */
async function forger(alg: 'EdDSA' | 'ES256' = 'EdDSA') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg };
  const keys = createLocalJWKSet({ keys: [jwk] });
  const now = () => Math.floor(Date.now() / 1000);
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT({ iss: 'https://issuer.test', aud: 'api', sub: '1', jti: crypto.randomUUID(), sid: 's1', iat: now(), exp: now() + 300, ...claims })
      .setProtectedHeader({ alg, kid: 'k1', typ: 'at+jwt', ...header })
      .sign(privateKey);
  return { keys, sign };
}

test('verifies a Gatehouse access token from the live JWKS and returns its claims', async (t) => {
  const { url, token } = await liveGatehouse(t);
  const verifier = createVerifier({ issuer: url, audience: 'gatehouse' });
  const claims = await verifier.verify(token);
  assert.equal(claims.iss, url);
  assert.equal(claims.username, 'rs_user');
  assert.equal(typeof claims.sid, 'string');
  assert.equal(typeof claims.jti, 'string');
  assert.deepEqual(await verifier.authenticate(`Bearer ${token}`), claims);
});

test('RFC 9068 checks: another audience, another issuer, an unpinned algorithm are all refused', async (t) => {
  const { url, token } = await liveGatehouse(t);
  await rejects(createVerifier({ issuer: url, audience: 'orders' }).verify(token), 'invalid_token', /aud/);
  await rejects(createVerifier({ issuer: 'https://evil.example', audience: 'gatehouse', jwksUri: `${url}/.well-known/jwks.json` }).verify(token), 'invalid_token', /iss/);
  await rejects(createVerifier({ issuer: url, audience: 'gatehouse', algorithms: ['ES256'] }).verify(token), 'invalid_token');
  assert.throws(() => createVerifier({ issuer: url, audience: 'gatehouse', algorithms: ['HS256'] }), /asymmetric/);
  assert.throws(() => createVerifier({ issuer: url, audience: 'gatehouse', algorithms: ['none'] }), /asymmetric/);
});

test('forged tokens: wrong typ, alg none, expired, tampered, missing jti are refused', async () => {
  const { keys, sign } = await forger();
  const verifier = createVerifier({ issuer: 'https://issuer.test', audience: 'api', keys, cacheSize: 0 });
  assert.equal((await verifier.verify(await sign({}))).sub, '1');
  await rejects(verifier.verify(await sign({}, { typ: 'JWT' })), 'invalid_token');
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: 'k1' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'https://issuer.test', aud: 'api', sub: '1', jti: 'x', iat: 1, exp: 9999999999 })).toString('base64url')}.`;
  await rejects(verifier.verify(none), 'invalid_token');
  await rejects(verifier.verify(await sign({ exp: Math.floor(Date.now() / 1000) - 60 })), 'invalid_token', /expired/);
  const good = await sign({});
  const [h, p, s] = good.split('.');
  const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
  await rejects(verifier.verify(`${h}.${Buffer.from(JSON.stringify({ ...payload, sub: '2' })).toString('base64url')}.${s}`), 'invalid_token');
  await rejects(verifier.verify(await sign({ jti: undefined })), 'invalid_token', /jti/);
  await rejects(verifier.verify('not-a-jwt'), 'invalid_token');
  await rejects(verifier.authenticate(undefined), 'missing_token');
  await rejects(verifier.authenticate('Basic abc'), 'invalid_request');
});

test('an unknown kid refetches the key set: a key rotation needs nothing from the resource server', async (t) => {
  const { app, url, token } = await liveGatehouse(t);
  const verifier = createVerifier({ issuer: url, audience: 'gatehouse', jwksCooldownMs: 100 });
  await verifier.verify(token);
  // At once (--now): the staged default would not sign with it within the test.
  await app.keys.rotate({ now: true });
  await new Promise((r) => setTimeout(r, 150));
  const { access_token: rotated } = await login(app, 'rs_user');
  const kid = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()).kid;
  assert.notEqual(kid(rotated), kid(token));
  assert.equal((await verifier.verify(rotated)).username, 'rs_user');
});

test('the verified-token cache: a hot token is verified once; the cache is bounded; an expired entry is refused', async () => {
  const { keys, sign } = await forger();
  let lookups = 0;
  const counting: JWTVerifyGetKey = (header, token) => {
    lookups++;
    return keys(header, token);
  };
  const verifier = createVerifier({ issuer: 'https://issuer.test', audience: 'api', keys: counting, cacheSize: 2 });
  const [a, b, c] = [await sign({}), await sign({}), await sign({})];
  for (let i = 0; i < 5; i++) await verifier.verify(a);
  assert.equal(lookups, 1);
  await verifier.verify(b);
  await verifier.verify(c); // evicts a
  await verifier.verify(a);
  assert.equal(lookups, 4);
  const short = createVerifier({ issuer: 'https://issuer.test', audience: 'api', keys, clockToleranceSeconds: 0 });
  const soon = await sign({ exp: Math.floor(Date.now() / 1000) + 1 });
  await short.verify(soon);
  await new Promise((r) => setTimeout(r, 2100));
  await rejects(short.verify(soon), 'invalid_token', /expired/);
});

test('an unreachable JWKS is an outage (503 temporarily_unavailable), not a bad token', async () => {
  const server = http.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  server.close();
  const { sign } = await forger();
  const verifier = createVerifier({ issuer: `http://127.0.0.1:${port}`, audience: 'api' });
  await rejects(verifier.verify(await sign({}, {})), 'temporarily_unavailable');
});

test('guards: scopes (403 insufficient_scope) and amr / max age (401 insufficient_user_authentication, RFC 9470)', () => {
  const claims = { iss: 'i', sub: '1', aud: 'api', exp: 0, iat: Math.floor(Date.now() / 1000) - 100, jti: 'j', scope: 'orders:read profile', amr: ['pwd'] } as AccessTokenClaims;
  requireScope(claims, ['orders:read']);
  assert.throws(() => requireScope(claims, ['orders:read', 'orders:write']), (e: unknown) => {
    assert.ok(e instanceof TokenError);
    assert.equal(e.status, 403);
    assert.equal(e.wwwAuthenticate('orders'), 'Bearer realm="orders", error="insufficient_scope", error_description="This needs the scope orders:write", scope="orders:read orders:write"');
    return true;
  });
  assert.throws(() => requireAuthentication(claims, { amr: ['mfa', 'otp'] }), (e: unknown) => {
    assert.ok(e instanceof TokenError);
    assert.equal(e.status, 401);
    assert.match(e.wwwAuthenticate()!, /^Bearer error="insufficient_user_authentication"/);
    return true;
  });
  requireAuthentication({ ...claims, amr: ['pwd', 'otp', 'mfa'] }, { amr: ['mfa'] });
  assert.throws(() => requireAuthentication(claims, { maxAgeSeconds: 60 }), /more recent/);
  requireAuthentication(claims, { maxAgeSeconds: 600 });
  assert.equal(new TokenError('missing_token', 'x').wwwAuthenticate('api'), 'Bearer realm="api"');
  assert.equal(new TokenError('temporarily_unavailable', 'x').wwwAuthenticate(), undefined);
});

test('Express-style middleware on node:http: 401 with the challenge, 200 with claims, 403 for a missing scope', async (t) => {
  const { url, token } = await liveGatehouse(t);
  const verifier = createVerifier({ issuer: url, audience: 'gatehouse' });
  const open = expressAuth({ verifier, realm: 'orders' });
  const scoped = expressAuth({ verifier, scopes: ['orders:write'] });
  const server = http.createServer((req, res) => {
    const mw = req.url === '/write' ? scoped : open;
    mw(req as http.IncomingMessage & { auth?: AccessTokenClaims }, res, (error) => {
      if (error) {
        res.statusCode = 500;
        return res.end();
      }
      res.end(JSON.stringify({ user: (req as { auth?: AccessTokenClaims }).auth?.username }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const anonymous = await fetch(`${base}/read`);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="orders"');
  assert.equal(anonymous.headers.get('content-type'), 'application/problem+json');
  const bad = await fetch(`${base}/read`, { headers: { authorization: 'Bearer abc.def.ghi' } });
  assert.equal(bad.status, 401);
  assert.match(bad.headers.get('www-authenticate')!, /error="invalid_token"/);
  const ok = await fetch(`${base}/read`, { headers: { authorization: `Bearer ${token}` } });
  assert.deepEqual(await ok.json(), { user: 'rs_user' });
  const forbidden = await fetch(`${base}/write`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(forbidden.status, 403);
  assert.match(forbidden.headers.get('www-authenticate')!, /error="insufficient_scope", .*scope="orders:write"/);
});

test('Fastify plugin and per-route guard: request.auth holds the claims; refusals carry the challenge', async (t) => {
  const { url, token } = await liveGatehouse(t);
  const verifier = createVerifier({ issuer: url, audience: 'gatehouse' });
  const api = Fastify();
  t.after(() => api.close());
  api.get('/public', async () => ({ ok: true }));
  await api.register(async (scope) => {
    await scope.register(fastifyAuth, { verifier });
    scope.get('/me', async (request) => ({ user: (request as unknown as { auth: AccessTokenClaims }).auth.username }));
    scope.get('/admin', { onRequest: fastifyGuard({ verifier, amr: ['mfa'] }) }, async () => ({ ok: true }));
  });
  assert.equal((await api.inject({ url: '/public' })).statusCode, 200);
  const anonymous = await api.inject({ url: '/me' });
  assert.equal(anonymous.statusCode, 401);
  assert.equal(anonymous.headers['www-authenticate'], 'Bearer');
  const ok = await api.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } });
  assert.deepEqual(ok.json(), { user: 'rs_user' });
  const weak = await api.inject({ url: '/admin', headers: { authorization: `Bearer ${token}` } });
  assert.equal(weak.statusCode, 401);
  assert.match(String(weak.headers['www-authenticate']), /insufficient_user_authentication/);
});
