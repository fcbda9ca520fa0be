/**
 * Access tokens on the wire: RFC 9068 shape, every way a token must be refused on /me,
 * key rotation (in-process and through the CLI), and the ES256 / RS256 / HS256 modes.
 * Forged tokens are signed with the server's own private key (read from the database the way an
 * attacker with a stolen key would) so that each one differs from a valid token in one
 * thing only; a control token made the same way must be accepted.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPublicKey, randomBytes, randomUUID, type JsonWebKey } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  SignJWT,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
} from 'jose';
import type { LightMyRequestResponse } from 'fastify';
import {
  FAST_HASH_ENV,
  FakeClock,
  buildTestApp,
  login,
  me,
  refresh,
  register,
  openStoredJwk,
  sqlRows,
  tempDir,
  type TestApp,
} from '../helpers/app.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** What jose signs with: a CryptoKey, or bytes for HMAC. */
type SigningKey = Awaited<ReturnType<typeof importJWK>>;

const HS_SECRET = 'an-hs256-test-secret-of-more-than-32-chars';

// ---------------------------------------------------------------------------------------
// helpers

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A 401 for a presented-but-bad token: Bearer challenge with error="invalid_token", a problem body. */
function assertInvalidToken(res: LightMyRequestResponse, label: string): void {
  assert.equal(res.statusCode, 401, `${label}: expected 401, got ${res.statusCode} ${res.body}`);
  const challenge = String(res.headers['www-authenticate'] ?? '');
  assert.match(challenge, /^Bearer\b/, `${label}: WWW-Authenticate is "${challenge}"`);
  assert.match(challenge, /error="invalid_token"/, `${label}: WWW-Authenticate is "${challenge}"`);
  assertProblem(res, 401, label);
}

function assertProblem(res: LightMyRequestResponse, status: number, label: string): void {
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/, `${label}: content-type`);
  const body = res.json();
  assert.equal(body.status, status, label);
  for (const field of ['type', 'title', 'detail']) {
    assert.equal(typeof body[field], 'string', `${label}: problem has no ${field}`);
  }
  assert.doesNotMatch(res.body, /\bat [^\n]+\.(ts|js):\d+/, `${label}: stack trace in body`);
}

async function jwksOf(app: TestApp): Promise<{ res: LightMyRequestResponse; jwks: JSONWebKeySet }> {
  const res = await app.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  assert.equal(res.statusCode, 200, res.body);
  return { res, jwks: res.json() as JSONWebKeySet };
}

function assertNoPrivateMembers(jwks: JSONWebKeySet): void {
  for (const key of jwks.keys) {
    for (const member of PRIVATE_MEMBERS) {
      assert.ok(!(member in key), `JWKS key ${key.kid} carries private member "${member}"`);
    }
  }
}

interface StoredKey {
  kid: string;
  alg: string;
  privateJwk: JWK;
  retired: boolean;
}

/** Signing keys as another process sees them: straight from the database (SQLite or PostgreSQL). */
async function storedKeys(app: TestApp): Promise<StoredKey[]> {
  const rows = await sqlRows<{ kid: string; alg: string; private_jwk: string; retired_at: unknown }>(
    app.dir,
    'SELECT kid, alg, private_jwk, retired_at FROM signing_keys ORDER BY created_at',
  );
  return rows.map((r) => ({
    kid: r.kid,
    alg: r.alg,
    privateJwk: openStoredJwk(app, r.kid, r.private_jwk),
    retired: r.retired_at !== null,
  }));
}

async function activeKey(app: TestApp): Promise<{ kid: string; alg: string; key: SigningKey }> {
  const active = (await storedKeys(app)).filter((k) => !k.retired && k.alg === app.config.jwt.algorithm);
  assert.equal(active.length, 1, 'exactly one active signing key');
  const { kid, alg, privateJwk } = active[0]!;
  return { kid, alg, key: await importJWK(privateJwk, alg) };
}

interface Forgery {
  header?: Record<string, unknown>;
  claims?: JWTPayload;
  key?: SigningKey;
  alg?: string;
}

/**
 * Signs `claims` (a real token's claims, overridden) with the server's active private key
 * unless another key is given. With no overrides the result is a valid token.
 */
async function forge(app: TestApp, base: string, forgery: Forgery = {}): Promise<string> {
  const real = await activeKey(app);
  const header = { alg: forgery.alg ?? real.alg, kid: real.kid, typ: 'at+jwt', ...forgery.header };
  return new SignJWT({ ...decodeJwt(base), ...forgery.claims })
    .setProtectedHeader(header as { alg: string })
    .sign(forgery.key ?? real.key);
}

async function userWithTokens(app: TestApp, username: string) {
  const user = await register(app, { username });
  const tokens = await login(app, username);
  return { user, tokens };
}

const kidOf = (token: string): string | undefined => decodeProtectedHeader(token).kid;

function logout(app: TestApp, accessToken: string) {
  return app.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${accessToken}` } });
}

function meWith(app: TestApp, authorization: string | undefined) {
  return app.app.inject({ method: 'GET', url: '/me', headers: authorization === undefined ? {} : { authorization } });
}

// ---------------------------------------------------------------------------------------
// 1. a valid token

test('/me with a valid access token → 200 user object; the token is an RFC 9068 at+jwt', async (t) => {
  const app = await buildTestApp(t);
  const { user, tokens } = await userWithTokens(app, 'alice');
  assert.equal(tokens.token_type, 'bearer');

  const res = await me(app, tokens.access_token);
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.deepEqual(Object.keys(body).sort(), ['created_at', 'email', 'email_verified', 'id', 'username']);
  assert.equal(body.id, user.id);
  assert.equal(body.username, 'alice');
  assert.equal(body.email, 'alice@example.com');

  const header = decodeProtectedHeader(tokens.access_token);
  assert.equal(header.typ, 'at+jwt');
  assert.equal(header.alg, 'EdDSA');
  assert.equal(typeof header.kid, 'string');
  assert.ok(header.kid!.length > 0);

  const claims = decodeJwt(tokens.access_token);
  assert.deepEqual(Object.keys(claims).sort(), ['amr', 'aud', 'auth_time', 'client_id', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub', 'username']);
  assert.equal(claims.iss, app.config.jwt.issuer);
  assert.equal(claims.sub, String(user.id));
  assert.equal(claims.aud, 'gatehouse');
  assert.equal(claims.username, 'alice');
  assert.equal(claims.client_id, 'gatehouse');
  assert.equal(typeof claims.jti, 'string');
  assert.equal(typeof claims.sid, 'string');
  assert.ok(Number.isInteger(claims.iat) && Number.isInteger(claims.exp));
  assert.ok(Math.abs(claims.iat! - Date.now() / 1000) < 60, 'iat is now');
  assert.equal(claims.exp! - claims.iat!, 30 * 60);
  assert.equal(tokens.expires_in, 30 * 60);

  // A resource server holding only the JWKS verifies it with the pinned expectations.
  const { jwks } = await jwksOf(app);
  const verified = await jwtVerify(tokens.access_token, createLocalJWKSet(jwks), {
    algorithms: ['EdDSA'],
    issuer: app.config.jwt.issuer,
    audience: 'gatehouse',
    typ: 'at+jwt',
  });
  assert.equal(verified.protectedHeader.kid, header.kid);

  // Two logins: distinct sessions and token ids.
  const second = await login(app, 'alice');
  assert.notEqual(decodeJwt(second.access_token).jti, claims.jti);
  assert.notEqual(decodeJwt(second.access_token).sid, claims.sid);
});

test('a token forged with the server\'s own key and the real claims is accepted (control for the forgeries below)', async (t) => {
  const app = await buildTestApp(t);
  const { tokens } = await userWithTokens(app, 'control');
  const forged = await forge(app, tokens.access_token, { claims: { jti: randomUUID() } });
  assert.notEqual(forged, tokens.access_token);
  const res = await me(app, forged);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().username, 'control');
});

// ---------------------------------------------------------------------------------------
// 2. every refusal

test('/me without an Authorization header → 401 Bearer realm challenge without error=', async (t) => {
  const app = await buildTestApp(t);
  const res = await meWith(app, undefined);
  assert.equal(res.statusCode, 401);
  const challenge = String(res.headers['www-authenticate']);
  assert.match(challenge, /^Bearer realm="[^"]+"/);
  assert.doesNotMatch(challenge, /error=/);
  assertProblem(res, 401, 'no header');
});

test('/me with Authorization: Basic → 401 error="invalid_request"', async (t) => {
  const app = await buildTestApp(t);
  const res = await meWith(app, `Basic ${Buffer.from('alice:CorrectHorse9').toString('base64')}`);
  assert.equal(res.statusCode, 401);
  const challenge = String(res.headers['www-authenticate']);
  assert.match(challenge, /^Bearer\b/);
  assert.match(challenge, /error="invalid_request"/);
  assertProblem(res, 401, 'Basic');
});

test('an expired token → 401 invalid_token (after 30 min + 30 s of skew, not before)', async (t) => {
  const clock = new FakeClock();
  const app = await buildTestApp(t, {}, { clock });
  const { tokens } = await userWithTokens(app, 'bob');
  assert.equal((await me(app, tokens.access_token)).statusCode, 200);

  clock.advance(30 * 60_000 + 20_000); // past exp, inside the 30 s skew
  assert.equal((await me(app, tokens.access_token)).statusCode, 200, 'within the clock skew');

  clock.advance(11_000); // 30 min + 31 s
  const res = await me(app, tokens.access_token);
  assertInvalidToken(res, 'expired');
  assert.match(res.json().detail, /expired/i);
});

test('a tampered payload (claim changed, signature kept) → 401 invalid_token', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'mallory' });
  const { user: victim } = await userWithTokens(app, 'victim');
  const { access_token } = await login(app, 'mallory');
  const [h, p, s] = access_token.split('.');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
  for (const change of [{ sub: String(victim.id), username: 'victim' }, { exp: claims.exp + 86_400 }, { aud: 'gatehouse ' }]) {
    const tampered = `${h}.${b64url({ ...claims, ...change })}.${s}`;
    assertInvalidToken(await me(app, tampered), `tampered ${Object.keys(change).join(',')}`);
  }
  assert.equal((await me(app, access_token)).statusCode, 200, 'the untouched token still works');
});

test('a tampered signature → 401 invalid_token', async (t) => {
  const app = await buildTestApp(t);
  const { tokens } = await userWithTokens(app, 'carol');
  const [h, p, s] = tokens.access_token.split('.');
  const sig = Buffer.from(s!, 'base64url');
  const flipped = Buffer.from(sig);
  flipped[0] = flipped[0]! ^ 0x01;
  for (const [label, signature] of [
    ['one bit flipped', flipped.toString('base64url')],
    ['empty', ''],
    ['zeros', Buffer.alloc(sig.length).toString('base64url')],
    ['truncated', sig.subarray(0, sig.length - 1).toString('base64url')],
  ] as const) {
    assertInvalidToken(await me(app, `${h}.${p}.${signature}`), `signature ${label}`);
  }
});

test('an alg:none token → 401 invalid_token', async (t) => {
  const app = await buildTestApp(t);
  const { tokens } = await userWithTokens(app, 'dave');
  const [h, p] = tokens.access_token.split('.');
  const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
  for (const alg of ['none', 'None', 'NONE']) {
    const token = `${b64url({ ...header, alg })}.${p}.`;
    assertInvalidToken(await me(app, token), `alg ${alg}`);
  }
});

test('an HS256 token made with the server\'s public key as the HMAC secret → 401 invalid_token', async (t) => {
  const app = await buildTestApp(t);
  const { tokens } = await userWithTokens(app, 'erin');
  const { jwks } = await jwksOf(app);
  const kid = kidOf(tokens.access_token);
  const publicJwk = jwks.keys.find((k) => k.kid === kid);
  assert.ok(publicJwk?.x, 'the signing key is in the JWKS');
  const pem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  const secrets: [string, Uint8Array][] = [
    ['raw Ed25519 public key bytes', new Uint8Array(Buffer.from(publicJwk.x, 'base64url'))],
    ['the x member as text', new TextEncoder().encode(publicJwk.x)],
    ['the public JWK as JSON', new TextEncoder().encode(JSON.stringify(publicJwk))],
    ['the JWKS document', new TextEncoder().encode(JSON.stringify(jwks))],
    ['the SPKI PEM', new TextEncoder().encode(pem)],
  ];
  for (const [label, secret] of secrets) {
    const token = await forge(app, tokens.access_token, { alg: 'HS256', key: secret });
    assert.equal(decodeProtectedHeader(token).alg, 'HS256');
    assertInvalidToken(await me(app, token), `HS256 with ${label}`);
  }
});

const FORGERIES: [string, (app: TestApp) => Forgery | Promise<Forgery>][] = [
  ['another aud', () => ({ claims: { aud: 'another-api' } })],
  ['an aud list without gatehouse', () => ({ claims: { aud: ['another-api', 'billing'] } })],
  ['another iss', (app) => ({ claims: { iss: `${app.config.jwt.issuer}.evil.example` } })],
  ['typ JWT instead of at+jwt', () => ({ header: { typ: 'JWT' } })],
  ['no typ', () => ({ header: { typ: undefined } })],
  ['an unknown kid', () => ({ header: { kid: 'not-a-known-kid' } })],
  ['no kid', () => ({ header: { kid: undefined } })],
  ['a foreign key under the real kid', async () => ({ key: (await generateKeyPair('EdDSA', { crv: 'Ed25519' })).privateKey })],
  [
    'the attacker\'s own key embedded in the header (jwk, jku)',
    async () => {
      const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
      return { key: privateKey, header: { jwk: await exportJWK(publicKey), jku: 'https://evil.example/jwks.json' } };
    },
  ],
  ['a non-numeric sub', () => ({ claims: { sub: 'alice' } })],
  ['no sid', () => ({ claims: { sid: undefined } })],
];

for (const [label, make] of FORGERIES) {
  test(`a token signed by the server's real key but with ${label} → 401 invalid_token`, async (t) => {
    const app = await buildTestApp(t);
    const { tokens } = await userWithTokens(app, 'frank');
    // The unmodified forgery passes, so the one change below is what gets it refused.
    assert.equal((await me(app, await forge(app, tokens.access_token))).statusCode, 200, 'control');
    const forgery = await make(app);
    const token = await forge(app, tokens.access_token, forgery);
    assertInvalidToken(await me(app, token), label);
  });
}

test('a refresh token presented as the Bearer token → 401 invalid_token', async (t) => {
  const app = await buildTestApp(t);
  const { tokens } = await userWithTokens(app, 'gina');
  assert.match(tokens.refresh_token, /^ghr_/);
  assertInvalidToken(await me(app, tokens.refresh_token), 'refresh token as access token');
  // The refresh token itself was not consumed or harmed by that.
  assert.equal((await refresh(app, tokens.refresh_token)).statusCode, 200);
});

test('the access token of a session revoked by POST /logout → 401 invalid_token', async (t) => {
  const app = await buildTestApp(t);
  const { tokens } = await userWithTokens(app, 'hank');
  assert.equal((await me(app, tokens.access_token)).statusCode, 200);
  assert.equal((await logout(app, tokens.access_token)).statusCode, 200);
  const res = await me(app, tokens.access_token);
  assertInvalidToken(res, 'revoked session');
  // A forgery re-signed with the real key for the same session is just as dead.
  assertInvalidToken(await me(app, await forge(app, tokens.access_token, { claims: { jti: randomUUID() } })), 'revoked sid, new jti');
});

test('revocation checks asked for together each get their own answer (live, logged out, other user)', async (t) => {
  const app = await buildTestApp(t);
  const a = await userWithTokens(app, 'jack');
  const b = await userWithTokens(app, 'kate');
  const gone = await login(app, 'jack');
  assert.equal((await logout(app, gone.access_token)).statusCode, 200);
  // Sent at once: on PostgreSQL these checks share one batched statement.
  const tokens = [a.tokens.access_token, gone.access_token, b.tokens.access_token, gone.access_token, a.tokens.access_token];
  const answers = await Promise.all(tokens.map((token) => me(app, token)));
  assert.deepEqual(answers.map((r) => r.statusCode), [200, 401, 200, 401, 200]);
  assert.deepEqual([answers[0], answers[2], answers[4]].map((r) => r.json().username), ['jack', 'kate', 'jack']);
});

test('ACCESS_TOKEN_CACHE_SIZE=0 (no cache): valid tokens pass, tampered and revoked ones do not', async (t) => {
  const app = await buildTestApp(t, { ACCESS_TOKEN_CACHE_SIZE: '0' });
  const { tokens } = await userWithTokens(app, 'ivy');
  for (let i = 0; i < 2; i++) assert.equal((await me(app, tokens.access_token)).statusCode, 200);
  const [header, payload, signature] = tokens.access_token.split('.');
  const flipped = signature!.slice(0, -2) + (signature!.endsWith('AA') ? 'BA' : 'AA');
  assertInvalidToken(await me(app, `${header}.${payload}.${flipped}`), 'tampered signature');
  assert.equal((await logout(app, tokens.access_token)).statusCode, 200);
  assertInvalidToken(await me(app, tokens.access_token), 'revoked session');
});

// ---------------------------------------------------------------------------------------
// 3. rotation in-process

test('key rotation: old tokens keep working, new ones carry the new kid, the JWKS lists both and nothing private', async (t) => {
  const app = await buildTestApp(t);
  const { tokens: before } = await userWithTokens(app, 'ivy');
  const oldKid = kidOf(before.access_token)!;

  const newKid = (await app.keys.rotate({ now: true })).kid;
  assert.notEqual(newKid, oldKid);

  assert.equal((await me(app, before.access_token)).statusCode, 200, 'a token of the retired key still verifies');
  const after = await login(app, 'ivy');
  assert.equal(kidOf(after.access_token), newKid);
  assert.equal((await me(app, after.access_token)).statusCode, 200);
  // Refreshing a pre-rotation session signs with the new key too.
  const refreshed = await refresh(app, before.refresh_token);
  assert.equal(refreshed.statusCode, 200, refreshed.body);
  assert.equal(kidOf(refreshed.json().access_token), newKid);

  const { res, jwks } = await jwksOf(app);
  assert.match(String(res.headers['cache-control']), /max-age=\d+/);
  assert.match(String(res.headers['content-type']), /json/);
  assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [oldKid, newKid].sort());
  for (const key of jwks.keys) {
    assert.equal(key.kty, 'OKP');
    assert.equal(key.crv, 'Ed25519');
    assert.equal(typeof key.x, 'string');
  }
  assertNoPrivateMembers(jwks);
  assert.doesNotMatch(res.body, /"d"\s*:/);
  // The route's response schema would strip extra members; the key ring must not hold them either.
  assertNoPrivateMembers(await app.keys.jwks());
  // Both generations verify against the published set.
  const set = createLocalJWKSet(jwks);
  for (const token of [before.access_token, after.access_token]) {
    await jwtVerify(token, set, { algorithms: ['EdDSA'], issuer: app.config.jwt.issuer, audience: 'gatehouse', typ: 'at+jwt' });
  }
});

test('a retired key leaves the JWKS and stops verifying once every token it signed has expired', async (t) => {
  const clock = new FakeClock();
  const app = await buildTestApp(t, {}, { clock });
  const { tokens } = await userWithTokens(app, 'jade');
  const oldKid = kidOf(tokens.access_token)!;
  const newKid = (await app.keys.rotate({ now: true })).kid;

  clock.advance(30 * 60_000); // the old key's last token is about to expire: still published
  assert.deepEqual((await jwksOf(app)).jwks.keys.map((k) => k.kid).sort(), [oldKid, newKid].sort());

  clock.advance(40 * 60_000); // well past token lifetime + skew + reload margin
  assert.deepEqual((await jwksOf(app)).jwks.keys.map((k) => k.kid), [newKid]);
  // Even with a fresh exp, a token under the expired key is refused.
  const late = await new SignJWT({ ...decodeJwt(tokens.access_token), iat: Math.floor(clock.now().getTime() / 1000), exp: Math.floor(clock.now().getTime() / 1000) + 600 })
    .setProtectedHeader({ alg: 'EdDSA', kid: oldKid, typ: 'at+jwt' })
    .sign(await importJWK((await storedKeys(app)).find((k) => k.kid === oldKid)!.privateJwk, 'EdDSA'));
  assertInvalidToken(await me(app, late), 'token under an expired key');
  const fresh = await forge(app, late, { header: { kid: newKid } });
  assert.equal((await me(app, fresh)).statusCode, 200, 'control: same claims under the active key');
});

// ---------------------------------------------------------------------------------------
// 4. rotation through the CLI, across a restart

test('`gatehouse keys rotate` as a subprocess: after a restart old tokens verify and refresh, new ones carry the new kid', async (t) => {
  const dir = tempDir(t);
  // The app and the command are two processes in different directories: on PostgreSQL each
  // would make its own key file, so they share one KEY_ENCRYPTION_KEY as instances must.
  const kek = { KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex') };
  const app = await buildTestApp(t, kek, { dir });
  await register(app, { username: 'kate' });
  const before = await login(app, 'kate');
  const oldKid = kidOf(before.access_token)!;
  await app.app.close();

  // The same database the app used: a SQLite file, or a PostgreSQL schema (?schema=).
  const env: Record<string, string> = { DATABASE_URL: app.env.DATABASE_URL!, ...FAST_HASH_ENV, ...kek };
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) {
    if (process.env[name] !== undefined) env[name] = process.env[name]!;
  }
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'keys', 'rotate', '--now'], {
    cwd: ROOT,
    env,
    timeout: 30_000,
  }).catch((error: { code?: number; stdout?: string; stderr?: string }) => {
    assert.fail(`keys rotate exited ${error.code}: ${error.stderr ?? ''}${error.stdout ?? ''}`);
  });
  const match = /new signing key (\S+) is active/.exec(stdout);
  assert.ok(match, `unexpected output: ${stdout}`);
  const newKid = match[1]!;
  assert.notEqual(newKid, oldKid);
  const stored = (await storedKeys(app)).filter((k) => k.alg === 'EdDSA');
  assert.deepEqual(
    stored.map((k) => [k.kid, k.retired]),
    [
      [oldKid, true],
      [newKid, false],
    ],
  );

  const again = await buildTestApp(t, kek, { dir });
  const meRes = await me(again, before.access_token);
  assert.equal(meRes.statusCode, 200, meRes.body);
  assert.equal(meRes.json().username, 'kate');
  const refreshed = await refresh(again, before.refresh_token);
  assert.equal(refreshed.statusCode, 200, refreshed.body);
  assert.equal(kidOf(refreshed.json().access_token), newKid);
  const after = await login(again, 'kate');
  assert.equal(kidOf(after.access_token), newKid);
  assert.equal((await me(again, after.access_token)).statusCode, 200);
  assert.deepEqual((await jwksOf(again)).jwks.keys.map((k) => k.kid).sort(), [oldKid, newKid].sort());
});

// ---------------------------------------------------------------------------------------
// 5. other algorithms

for (const [alg, kty, crv] of [
  ['ES256', 'EC', 'P-256'],
  ['RS256', 'RSA', undefined],
] as const) {
  test(`ALGORITHM=${alg}: login and /me work, tokens say ${alg}, the JWKS key is ${kty}`, async (t) => {
    const app = await buildTestApp(t, { ALGORITHM: alg });
    const { tokens } = await userWithTokens(app, 'liam');
    const res = await me(app, tokens.access_token);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().username, 'liam');
    const header = decodeProtectedHeader(tokens.access_token);
    assert.equal(header.alg, alg);
    assert.equal(header.typ, 'at+jwt');

    const { jwks } = await jwksOf(app);
    assert.equal(jwks.keys.length, 1);
    const key = jwks.keys[0]!;
    assert.equal(key.kty, kty);
    assert.equal(key.kid, header.kid);
    assert.equal(key.alg, alg);
    if (crv) assert.equal(key.crv, crv);
    else assert.ok(key.n && key.e, 'RSA modulus and exponent');
    assertNoPrivateMembers(jwks);
    await jwtVerify(tokens.access_token, createLocalJWKSet(jwks), {
      algorithms: [alg],
      issuer: app.config.jwt.issuer,
      audience: 'gatehouse',
      typ: 'at+jwt',
    });

    // Pinning: an EdDSA token from another server (or with this server's kid) is refused.
    const other = await buildTestApp(t);
    const { tokens: foreign } = await userWithTokens(other, 'liam');
    assertInvalidToken(await me(app, foreign.access_token), `EdDSA token at an ${alg} server`);
    const ed = (await generateKeyPair('EdDSA', { crv: 'Ed25519' })).privateKey;
    assertInvalidToken(await me(app, await forge(app, tokens.access_token, { alg: 'EdDSA', key: ed })), `EdDSA under the ${alg} kid`);
  });
}

test('ALGORITHM=HS256 with SECRET_KEY: login and /me work, tokens say HS256, no JWKS; EdDSA tokens are refused', async (t) => {
  const app = await buildTestApp(t, { ALGORITHM: 'HS256', SECRET_KEY: HS_SECRET });
  const { tokens } = await userWithTokens(app, 'mona');
  const res = await me(app, tokens.access_token);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().username, 'mona');
  const header = decodeProtectedHeader(tokens.access_token);
  assert.equal(header.alg, 'HS256');
  assert.equal(header.typ, 'at+jwt');
  // Verifiable with the shared secret, as the original service's resource servers did.
  const secret = new TextEncoder().encode(HS_SECRET);
  await jwtVerify(tokens.access_token, secret, { algorithms: ['HS256'], issuer: app.config.jwt.issuer, audience: 'gatehouse' });

  const jwks = await app.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  assert.equal(jwks.statusCode, 404);
  assertProblem(jwks, 404, 'jwks under HS256');
  assert.ok(!jwks.body.includes(HS_SECRET));

  // Control: the same claims signed with SECRET_KEY pass.
  const sign = (alg: string, key: SigningKey, extra: Record<string, unknown> = {}) =>
    new SignJWT(decodeJwt(tokens.access_token)).setProtectedHeader({ alg, kid: header.kid, typ: 'at+jwt', ...extra }).sign(key);
  assert.equal((await me(app, await sign('HS256', secret))).statusCode, 200, 'control');

  // An EdDSA token from a default server, and one forged under this server's kid: both refused.
  const other = await buildTestApp(t);
  const { tokens: foreign } = await userWithTokens(other, 'mona');
  assertInvalidToken(await me(app, foreign.access_token), 'EdDSA token from another server');
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  assertInvalidToken(await me(app, await sign('EdDSA', privateKey)), 'EdDSA token under the hs256 kid');
  assertInvalidToken(await me(app, await sign('HS256', new TextEncoder().encode(`${HS_SECRET}x`))), 'HS256 with another secret');
  assertInvalidToken(await me(app, await sign('HS512', new TextEncoder().encode(HS_SECRET.repeat(2)))), 'HS512');
  const [h, p] = tokens.access_token.split('.');
  const none = `${b64url({ ...JSON.parse(Buffer.from(h!, 'base64url').toString()), alg: 'none' })}.${p}.`;
  assertInvalidToken(await me(app, none), 'alg none under HS256');
});
