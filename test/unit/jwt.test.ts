/**
 * crypto/jwt.ts signs and verifies with node:crypto; jose is the reference here: what we
 * sign, jose verifies, and what jose signs, we verify, in every supported algorithm, and
 * every token jose's jwtVerify would refuse (with our settings) we refuse too.
 */
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { test } from 'node:test';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import type { SigningAlgorithm } from '../../src/config/index.js';
import { TokenVerificationError, signAccessToken, signJwt, verifyAccessToken, type TokenFailure } from '../../src/crypto/jwt.js';
import { generateSigningKey, hmacKey, importSigningKey, importVerifyKey } from '../../src/crypto/keys.js';

const ISSUER = 'https://auth.example.com';
const AUDIENCE = 'gatehouse';
const SECRET = 'an-hs256-secret-that-is-long-enough-0123456789';
const now = new Date();
const nowSeconds = Math.floor(now.getTime() / 1000);
const settings = (algorithm: SigningAlgorithm) => ({ algorithm, issuer: ISSUER, audience: AUDIENCE, clockSkewSeconds: 30 });

async function keysFor(alg: SigningAlgorithm) {
  if (alg === 'HS256') {
    const key = hmacKey(SECRET);
    const joseKey = new TextEncoder().encode(SECRET);
    return { kid: 'hs256', sign: key, verify: key, joseSign: joseKey, joseVerify: joseKey };
  }
  const generated = await generateSigningKey(alg);
  const { importJWK } = await import('jose');
  return {
    kid: generated.kid,
    sign: await importSigningKey(generated.privateJwk, alg),
    verify: await importVerifyKey(generated.publicJwk, alg),
    joseSign: await importJWK(generated.privateJwk, alg),
    joseVerify: await importJWK(generated.publicJwk, alg),
  };
}

const claims = { sub: '42', sid: 'session-1', jti: 'token-1', username: 'alice', clientId: 'gatehouse', audience: AUDIENCE };

for (const alg of ['EdDSA', 'ES256', 'RS256', 'HS256'] as const) {
  test(`${alg}: our tokens verify with jose, jose's verify with us`, async () => {
    const k = await keysFor(alg);
    const { token, exp } = await signAccessToken(claims, { kid: k.kid, key: k.sign }, settings(alg), now, 900);
    const { payload, protectedHeader } = await jwtVerify(token, k.joseVerify, { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt', algorithms: [alg] });
    assert.deepEqual(protectedHeader, { alg, kid: k.kid, typ: 'at+jwt' });
    assert.equal(payload.exp, exp);
    assert.equal(payload.sub, '42');
    assert.equal(payload.client_id, 'gatehouse');

    const mine = await verifyAccessToken(token, async () => k.verify, settings(alg), now);
    assert.deepEqual(mine, { sub: '42', sid: 'session-1', jti: 'token-1', username: 'alice', exp, iat: nowSeconds, aud: AUDIENCE, clientId: 'gatehouse' });

    const joseToken = await new SignJWT({ sid: 's', username: 'bob', client_id: 'c' })
      .setProtectedHeader({ alg, kid: k.kid, typ: 'application/at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(['other', AUDIENCE])
      .setSubject('7')
      .setJti('j')
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + 60)
      .sign(k.joseSign);
    const fromJose = await verifyAccessToken(joseToken, async () => k.verify, settings(alg), now);
    assert.equal(fromJose.sub, '7');
    assert.deepEqual(fromJose.aud, ['other', AUDIENCE]);
  });
}

// ID and logout tokens: signJwt makes what jose's SignJWT makes. EdDSA and RS256 (PKCS #1
// v1.5) signatures are deterministic, so the two tokens are the same string; ES256's are
// randomised, so there the signed parts are compared and jose verifies ours.
for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
  test(`${alg}: signJwt makes the token jose's SignJWT makes`, async () => {
    const k = await keysFor(alg);
    const body = { auth_time: nowSeconds - 5, sid: 'sso-1', amr: ['pwd', 'otp'], azp: 'app', nonce: 'n-0', email: 'a@example.com', email_verified: false };
    const registered = { iss: ISSUER, sub: '42', aud: 'app', iat: nowSeconds, exp: nowSeconds + 300, jti: 'id-1' };
    const ours = await signJwt(alg, { kid: k.kid, key: k.sign }, 'JWT', { ...body, ...registered });
    const theirs = await new SignJWT(body)
      .setProtectedHeader({ alg, kid: k.kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject('42')
      .setAudience('app')
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + 300)
      .setJti('id-1')
      .sign(k.joseSign);
    if (alg === 'ES256') assert.equal(ours.split('.').slice(0, 2).join('.'), theirs.split('.').slice(0, 2).join('.'));
    else assert.equal(ours, theirs);
    const { payload, protectedHeader } = await jwtVerify(ours, k.joseVerify, { issuer: ISSUER, audience: 'app', typ: 'JWT', algorithms: [alg] });
    assert.deepEqual(protectedHeader, { alg, kid: k.kid, typ: 'JWT' });
    assert.deepEqual(payload, { ...body, ...registered });
  });
}

async function refused(token: string, key: Awaited<ReturnType<typeof keysFor>>, reason: TokenFailure, label: string, alg: SigningAlgorithm = 'EdDSA', joseToo = true) {
  await assert.rejects(
    verifyAccessToken(token, async (kid) => (kid === key.kid ? key.verify : undefined), settings(alg), now),
    (error: unknown) => error instanceof TokenVerificationError && error.reason === reason,
    label,
  );
  // jose, given the same settings, refuses it as well.
  if (joseToo) await assert.rejects(jwtVerify(token, key.joseVerify, { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt', algorithms: [alg], clockTolerance: 30, requiredClaims: ['sub', 'jti', 'exp', 'iat'] }), `jose: ${label}`);
}

test('every refusal: header, signature, claims, lifetime', async () => {
  const k = await keysFor('EdDSA');
  const base: JWTPayload = { sid: 's', username: 'u', client_id: 'c', iss: ISSUER, aud: AUDIENCE, sub: '1', jti: 'j', iat: nowSeconds, exp: nowSeconds + 600 };
  const make = (payload: JWTPayload, header: Record<string, unknown> = {}, key = k.joseSign) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: k.kid, typ: 'at+jwt', ...header } as { alg: string }).sign(key);

  const good = await make(base);
  await verifyAccessToken(good, async () => k.verify, settings('EdDSA'), now); // control

  await refused(await make(base, { typ: 'JWT' }), k, 'claims', 'typ JWT');
  await refused(await make(base, { typ: undefined }), k, 'claims', 'no typ');
  // jose will not sign a crit header it does not know: sign this one by hand.
  const critInput = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: k.kid, typ: 'at+jwt', crit: ['urn:x'], 'urn:x': 1 })).toString('base64url')}.${Buffer.from(JSON.stringify(base)).toString('base64url')}`;
  await refused(`${critInput}.${sign(null, Buffer.from(critInput), k.sign).toString('base64url')}`, k, 'malformed', 'crit');
  // (jose is handed the key itself here, so the kid means nothing to it.)
  await refused(await make(base, { kid: 'someone-else' }), k, 'unknown_key', 'unknown kid', 'EdDSA', false);
  await refused(await make({ ...base, iss: 'https://evil.example.com' }), k, 'claims', 'issuer');
  await refused(await make({ ...base, aud: 'other' }), k, 'claims', 'audience');
  await refused(await make({ ...base, aud: [] }), k, 'claims', 'empty audience');
  await refused(await make({ ...base, exp: nowSeconds - 45 }), k, 'expired', 'expired beyond the skew');
  await refused(await make({ ...base, nbf: nowSeconds + 45 }), k, 'claims', 'not yet valid');
  await refused(await make({ ...base, exp: undefined }), k, 'claims', 'no exp');
  await refused(await make({ ...base, iat: undefined }), k, 'claims', 'no iat');
  await refused(await make({ ...base, sub: undefined }), k, 'claims', 'no sub');

  const [h, p, s] = good.split('.') as [string, string, string];
  const otherPayload = Buffer.from(JSON.stringify({ ...base, sub: '2' })).toString('base64url');
  await refused(`${h}.${otherPayload}.${s}`, k, 'signature', 'payload swapped under the signature');
  await refused(`${h}.${p}.${s.slice(0, -2)}`, k, 'signature', 'truncated signature');
  // jose forgives the padding (the reason COMPACT_JWS exists); we do not.
  await refused(`${good}==`, k, 'malformed', 'padded', 'EdDSA', false);
  await refused(`${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${p}.`, k, 'malformed', 'alg none');

  // Algorithm confusion: an HS256 token whose secret is the public key's JWK, against an EdDSA key.
  const confused = await new SignJWT(base)
    .setProtectedHeader({ alg: 'HS256', kid: k.kid, typ: 'at+jwt' })
    .sign(new TextEncoder().encode(JSON.stringify(k.verify.export({ format: 'jwk' }))));
  await assert.rejects(verifyAccessToken(confused, async () => k.verify, settings('EdDSA'), now), (e: unknown) => e instanceof TokenVerificationError && e.reason === 'malformed');
  // Within the clock skew a just-expired token still passes, as with jose's clockTolerance.
  const justExpired = await make({ ...base, exp: nowSeconds - 10 });
  assert.equal((await verifyAccessToken(justExpired, async () => k.verify, settings('EdDSA'), now)).sub, '1');
});
