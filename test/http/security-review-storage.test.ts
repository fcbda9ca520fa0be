/**
 * The security review's findings (issue 15) that concern what is stored: revocation
 * retention, staged key rotation, encrypted keys, voided original tokens, the importer.
 * Every test here failed on the code before its fix. Runs on SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { FakeClock, PASSWORD, buildTestApp, login, me, register, type TestApp } from '../helpers/app.js';

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

/** The app on a real port (resource servers fetch its JWKS over HTTP). */
async function serve(t: TestContext, clock: FakeClock): Promise<{ app: TestApp; issuer: string }> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const app = await buildTestApp(t, { PUBLIC_URL: issuer, PORT: String(port), RATE_LIMIT_LOGIN_PER_MINUTE: '1000' }, { clock });
  await app.app.listen({ host: '127.0.0.1', port });
  return { app, issuer };
}

test('item 7: an access token revoked alone stays revoked through the clock skew, pruning or not', async (t) => {
  const clock = new FakeClock();
  const app = await buildTestApp(t, {}, { clock });
  await register(app, { username: 'nina' });
  const tokens = await login(app, 'nina');
  const revoke = await app.app.inject({
    method: 'POST',
    url: '/oauth/revoke',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ token: tokens.access_token }).toString(),
  });
  assert.equal(revoke.statusCode, 200);
  assert.equal((await me(app, tokens.access_token)).statusCode, 401);
  // Past exp but inside the 30 s skew the token's signature and lifetime still pass:
  // only its revocation row stands in the way, and the hourly prune must leave it.
  clock.advance(30 * 60_000 + 10_000);
  await app.stores.revokedTokens.prune(clock.now());
  const res = await me(app, tokens.access_token);
  assert.equal(res.statusCode, 401, `a revoked token worked again after pruning: ${res.statusCode}`);
});

test('item 17: key rotation is staged: resource servers with a cached JWKS never meet an unknown kid', { timeout: 60_000 }, async (t) => {
  const clock = new FakeClock();
  const { app, issuer } = await serve(t, clock);
  await register(app, { username: 'omar' });
  // A resource server as jose builds one, with its defaults (no refetch within 30 s).
  const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
  const verify = (token: string) => jwtVerify(token, jwks, { issuer, audience: 'gatehouse', typ: 'at+jwt', algorithms: ['EdDSA'] });

  const before = await login(app, 'omar');
  const oldKid = (await verify(before.access_token)).protectedHeader.kid;

  await app.keys.rotate();
  const published = ((await (await fetch(`${issuer}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  const newKid = published.find((kid) => kid !== oldKid);
  assert.ok(newKid, 'the new key is published at once');

  const during = await login(app, 'omar');
  assert.equal(decodeProtectedHeader(during.access_token).kid, oldKid, 'the old key signs until the JWKS caches have turned over');
  await verify(during.access_token); // the cached key set still verifies everything issued
  clock.advance(5 * 60_000);
  assert.equal(decodeProtectedHeader((await login(app, 'omar')).access_token).kid, oldKid, 'still the old key 5 minutes on (max-age=300 + 60 s stale)');

  // Once the caches have turned over, the new key signs; a key set fetched since the
  // rotation has it already.
  clock.advance(2 * 60_000);
  const refetched = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
  const after = await login(app, 'omar');
  assert.equal(decodeProtectedHeader(after.access_token).kid, newKid, 'the new key signs after the delay');
  await jwtVerify(after.access_token, refetched, { issuer, audience: 'gatehouse', typ: 'at+jwt', algorithms: ['EdDSA'] });
  assert.equal((await me(app, before.access_token)).statusCode, 200, 'tokens of the old key stay valid');
  assert.equal((await me(app, after.access_token)).statusCode, 200);
});

test('item 17: keys rotate --now signs with the new key at once (the emergency path)', async (t) => {
  const clock = new FakeClock();
  const app = await buildTestApp(t, {}, { clock });
  await register(app, { username: 'pia' });
  const before = decodeProtectedHeader((await login(app, 'pia', PASSWORD)).access_token).kid;
  await app.keys.rotate({ now: true });
  const after = decodeProtectedHeader((await login(app, 'pia', PASSWORD)).access_token).kid;
  assert.notEqual(after, before, 'signed with the new key at once');
});
