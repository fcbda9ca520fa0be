/** Every way to present a token that must not work: all 401, none 5xx. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, importJWK, type JWTPayload } from 'jose';
import { FakeClock, PASSWORD, buildTestApp, freshIp, login, me, openStoredJwk, refresh, register, sqlRows, type TestApp } from '../helpers/app.js';

async function serverKey(app: TestApp) {
  const [row] = await sqlRows<{ kid: string; private_jwk: string }>(app.dir, "SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NULL AND alg = 'EdDSA'");
  return { kid: row!.kid, key: await importJWK(openStoredJwk(app, row!.kid, row!.private_jwk), 'EdDSA') };
}

/** Re-signs a real token's claims with `claims` and `header` overridden (server key unless given). */
async function forge(app: TestApp, base: string, o: { header?: Record<string, unknown>; claims?: JWTPayload; key?: Awaited<ReturnType<typeof importJWK>> } = {}) {
  const real = await serverKey(app);
  return new SignJWT({ ...decodeJwt(base), ...o.claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: real.kid, typ: 'at+jwt', ...o.header } as { alg: string })
    .sign(o.key ?? real.key);
}

function assert401(res: { statusCode: number; body: string }, label: string) {
  assert.equal(res.statusCode, 401, `${label}: ${res.statusCode} ${res.body}`);
}

async function setup(t: Parameters<typeof buildTestApp>[0], clock?: FakeClock) {
  const app = await buildTestApp(t, {}, clock ? { clock } : {});
  await register(app, { username: 'victim' });
  const tokens = await login(app, 'victim');
  return { app, tokens };
}

test('control: a re-signed copy of a real token is accepted', async (t) => {
  const { app, tokens } = await setup(t);
  assert.equal((await me(app, await forge(app, tokens.access_token))).statusCode, 200);
});

test('kid games: path traversal, SQL, empty, another type → 401', async (t) => {
  const { app, tokens } = await setup(t);
  for (const kid of ['../../../../etc/passwd', "' OR '1'='1' --", '', 'x'.repeat(5000), '\u0000', 42, null, ['k']]) {
    assert401(await me(app, await forge(app, tokens.access_token, { header: { kid } })), `kid ${JSON.stringify(kid).slice(0, 30)}`);
  }
  assert.equal((await me(app, tokens.access_token)).statusCode, 200, 'the real token still works');
});

test('jku / x5u / jwk header injection with the attacker\'s own key → 401', async (t) => {
  const { app, tokens } = await setup(t);
  const attacker = await generateKeyPair('EdDSA', { extractable: true });
  const jwk = await exportJWK(attacker.publicKey);
  for (const header of [
    { jwk },
    { jku: 'http://127.0.0.1:1/jwks.json' },
    { x5u: 'http://127.0.0.1:1/cert.pem' },
    { jwk, kid: undefined },
    { jku: 'http://127.0.0.1:1/jwks.json', kid: 'attacker' },
  ]) {
    assert401(await me(app, await forge(app, tokens.access_token, { header, key: attacker.privateKey })), `header ${Object.keys(header).join(',')}`);
  }
});

test('not yet valid (nbf) beyond the clock skew → 401; within it → 200', async (t) => {
  const { app, tokens } = await setup(t);
  const now = Math.floor(Date.now() / 1000);
  assert401(await me(app, await forge(app, tokens.access_token, { claims: { nbf: now + 120 } })), 'nbf in 2 min');
  assert.equal((await me(app, await forge(app, tokens.access_token, { claims: { nbf: now + 10 } }))).statusCode, 200, 'nbf within the 30 s skew');
});

test('expired with and without the skew', async (t) => {
  const clock = new FakeClock();
  const { app, tokens } = await setup(t, clock);
  clock.advance((30 * 60 + 20) * 1000);
  assert.equal((await me(app, tokens.access_token)).statusCode, 200, 'within the skew');
  clock.advance(15_000);
  assert401(await me(app, tokens.access_token), 'past exp + skew');
});

test('swapped aud and iss, and a foreign issuer → 401', async (t) => {
  const { app, tokens } = await setup(t);
  const { iss, aud } = decodeJwt(tokens.access_token);
  assert401(await me(app, await forge(app, tokens.access_token, { claims: { iss: aud as string, aud: iss } })), 'swapped');
  assert401(await me(app, await forge(app, tokens.access_token, { claims: { iss: 'https://evil.example.com' } })), 'foreign iss');
  assert401(await me(app, await forge(app, tokens.access_token, { claims: { aud: ['someone-else'] } })), 'foreign aud');
});

test('a refresh token as an access token, and an access token as a refresh token → 401', async (t) => {
  const { app, tokens } = await setup(t);
  assert401(await me(app, tokens.refresh_token), 'refresh as access');
  assert401(await refresh(app, tokens.access_token), 'access as refresh');
  assert.equal((await refresh(app, tokens.refresh_token)).statusCode, 200, 'both still work for what they are');
});

test('the token of a deleted user → 401', async (t) => {
  const { app, tokens } = await setup(t);
  const other = await login(app, 'victim');
  const del = await app.app.inject({ method: 'DELETE', url: '/me', headers: { authorization: `Bearer ${tokens.access_token}` }, payload: { password: PASSWORD }, remoteAddress: freshIp() });
  assert.equal(del.statusCode, 204);
  assert401(await me(app, other.access_token), 'other session of the deleted user');
  // Even a perfectly signed token naming the deleted user's session.
  assert401(await me(app, await forge(app, other.access_token)), 're-signed');
});

test('truncated, padded, re-encoded and oversized tokens → 401, never 5xx', async (t) => {
  const { app, tokens } = await setup(t);
  const good = tokens.access_token;
  const [h, p, s] = good.split('.') as [string, string, string];
  const variants = [
    good.slice(0, -1),
    `${good}=`,
    `${good}==`,
    `${h}.${p}.${s}.`,
    `${h}.${p}`,
    `${h}..${s}`,
    `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`,
    `${h}.${Buffer.from(p, 'base64url').toString('base64')}.${s}`,
    `${h.toUpperCase()}.${p}.${s}`,
    'a.b.c',
    '...',
    `${good}${'A'.repeat(8000)}`,
    // Standard base64 of ASCII JSON differs from base64url only by its padding: for a part
    // whose length is a multiple of 3 bytes the "re-encoded" token is the token itself.
  ].filter((v) => v !== good);
  assert.ok(variants.length >= 11);
  for (const v of variants) assert401(await me(app, v), v.slice(0, 40));
  // Non-token Authorization headers.
  for (const header of ['Bearer', 'Bearer  ', `Bearer ${good} extra`, `bearer\t${good}`, `Token ${good}`, 'Bearer ünïcödé']) {
    const res = await app.app.inject({ method: 'GET', url: '/me', headers: { authorization: header } });
    assert.ok(res.statusCode === 401 || res.statusCode === 400, `${header.slice(0, 20)} → ${res.statusCode}`);
  }
});

test('a token signed by a rotated-out key after its grace → 401', async (t) => {
  const clock = new FakeClock();
  const { app, tokens } = await setup(t, clock);
  await app.keys.rotate({ now: true });
  clock.advance(25 * 60_000);
  assert.equal((await me(app, tokens.access_token)).statusCode, 200, 'inside the grace');
  const old = await forge(app, tokens.access_token); // the new key: control
  assert.equal((await me(app, old)).statusCode, 200);
  clock.advance(40 * 60_000);
  // The old key is gone; a token it signed with a fresh exp is refused.
  const [row] = await sqlRows<{ kid: string; private_jwk: string }>(app.dir, "SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NOT NULL AND alg = 'EdDSA'");
  const retired = await importJWK(openStoredJwk(app, row!.kid, row!.private_jwk), 'EdDSA');
  const fresh = await new SignJWT({ ...decodeJwt(tokens.access_token), exp: Math.floor(clock.now().getTime() / 1000) + 600 })
    .setProtectedHeader({ alg: 'EdDSA', kid: row!.kid, typ: 'at+jwt' })
    .sign(retired);
  assert401(await me(app, fresh), 'retired key past its grace');
});
