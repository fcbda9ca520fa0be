/**
 * Property-based input testing (fast-check) of the MFA endpoints, as fuzz.test.ts does for
 * the others: random JSON, forms, hostile strings, and structurally plausible WebAuthn
 * responses and mfa_tokens (live ones too). Invariants: never a 5xx or a stack trace, a
 * 4xx is a problem document that writes nothing, Object.prototype untouched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PASSWORD, buildTestApp, freshIp, login, register, sqlReader, type TestApp } from '../helpers/app.js';
import { enrolTotp } from '../helpers/mfa.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

const nasty = fc.constantFrom('', ' ', '\u0000', '\uD800', 'ａｄｍｉｎ', '🦄'.repeat(300), 'x'.repeat(5000), "' OR 1=1 --", '000000', '123456', '99999999', '-1', 'ghf_', 'aaaa-bbbb-cccc-dddd');
const str = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), nasty);
const b64 = (s: string) => Buffer.from(s).toString('base64url');
/** A WebAuthn credential JSON with random, sometimes well-formed, parts. */
const credential = fc.record({
  id: fc.oneof(str, fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u).toString('base64url'))),
  rawId: str,
  type: fc.constantFrom('public-key', 'other', ''),
  response: fc.record({
    clientDataJSON: fc.oneof(str, fc.record({ type: fc.constantFrom('webauthn.get', 'webauthn.create', 'x'), challenge: str, origin: str }).map((d) => b64(JSON.stringify(d)))),
    attestationObject: str,
    authenticatorData: str,
    signature: str,
    userHandle: str,
  }, { requiredKeys: [] }),
  clientExtensionResults: fc.constantFrom({}, { credProps: { rk: true } }),
}, { requiredKeys: [] });

const value: fc.Arbitrary<unknown> = fc.oneof(str, fc.integer(), fc.boolean(), fc.constant(null), fc.array(str, { maxLength: 3 }), fc.dictionary(str, str, { maxKeys: 3 }), credential);
const FIELDS = ['password', 'factor_id', 'code', 'recovery_code', 'mfa_token', 'response', 'name', 'otp'];

function bodies(liveMfaToken: () => string) {
  const key = fc.oneof(fc.constantFrom(...FIELDS, '__proto__', 'constructor'), str);
  const tokenish = fc.oneof(str, fc.constant(null).map(() => liveMfaToken()));
  return fc.oneof(
    fc.dictionary(key, value, { maxKeys: 6 }),
    fc.record({ mfa_token: tokenish, code: fc.oneof(str, fc.stringMatching(/^\d{6}$/)), recovery_code: str }, { requiredKeys: [] }),
    fc.record({ response: credential, mfa_token: tokenish, name: str }, { requiredKeys: [] }),
    fc.record({ password: fc.constantFrom(PASSWORD, 'wrong', ''), factor_id: str, code: str }, { requiredKeys: [] }),
  );
}

const ROUTES: Array<{ method: 'POST' | 'DELETE'; url: string; auth?: boolean }> = [
  { method: 'POST', url: '/mfa/totp', auth: true },
  { method: 'POST', url: '/mfa/totp/activate', auth: true },
  { method: 'DELETE', url: '/mfa/factors/00000000-0000-0000-0000-000000000000', auth: true },
  { method: 'POST', url: '/mfa/recovery-codes', auth: true },
  { method: 'POST', url: '/login/mfa' },
  { method: 'POST', url: '/webauthn/register/options', auth: true },
  { method: 'POST', url: '/webauthn/register', auth: true },
  { method: 'POST', url: '/webauthn/login/options' },
  { method: 'POST', url: '/webauthn/login' },
];

async function fuzzApp(t: Parameters<typeof buildTestApp>[0]) {
  const app = await buildTestApp(t, {
    RATE_LIMIT_LOGIN_PER_MINUTE: '1000000',
    LOCKOUT_ACCOUNT_FAILURES: '1000000',
    LOCKOUT_ACCOUNT_IP_FAILURES: '1000000',
  });
  await register(app, { username: 'fuzzer' });
  await register(app, { username: 'second' });
  // `second` has TOTP: live mfa_tokens for the second-step endpoints.
  await enrolTotp(app, (await login(app, 'second')).access_token);
  return app;
}

async function liveToken(app: TestApp): Promise<string> {
  const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'second', password: PASSWORD }, remoteAddress: freshIp() });
  return res.json().mfa_token;
}

for (const route of ROUTES) {
  test(`fuzz ${route.method} ${route.url}`, { timeout: 180_000 }, async (t) => {
    const app = await fuzzApp(t);
    const { access_token: token } = await login(app, 'fuzzer', PASSWORD);
    const read = await sqlReader(t, app.dir);
    const tables = ['users', 'sessions', 'mfa_factors', 'recovery_codes', 'auth_challenges'];
    const count = async () => JSON.stringify(await read(`SELECT ${tables.map((x) => `(SELECT count(*) FROM ${x}) AS ${x}`).join(', ')}`));
    let live = await liveToken(app);
    let snapshot = await count();
    const check = async (contentType: string, payload: string) => {
      const res = await app.app.inject({
        method: route.method,
        url: route.url,
        headers: { 'content-type': contentType, ...(route.auth ? { authorization: `Bearer ${token}` } : {}) },
        payload,
        remoteAddress: freshIp(),
      });
      assert.ok(res.statusCode < 500, `${route.url} ${payload.slice(0, 300)} → ${res.statusCode} ${res.body}`);
      assert.doesNotMatch(res.body, /at .+\.(ts|js):\d+/, 'no stack trace');
      if (res.statusCode >= 400) {
        assert.ok(String(res.headers['content-type']).startsWith('application/problem+json'), `${route.url}: ${res.headers['content-type']}`);
        assert.equal(await count(), snapshot, `${route.url}: a ${res.statusCode} wrote nothing`);
      } else {
        snapshot = await count();
      }
      assert.deepEqual(Object.keys(Object.prototype), []);
    };
    const shaped = bodies(() => live);
    await fc.assert(fc.asyncProperty(shaped, (b) => check('application/json', JSON.stringify(b))), { numRuns: RUNS });
    live = await liveToken(app);
    snapshot = await count();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...FIELDS), str), { maxLength: 6 }), (pairs) =>
        check('application/x-www-form-urlencoded', new URLSearchParams(pairs).toString()),
      ),
      { numRuns: RUNS },
    );
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 200 }), (junk) => check('application/json', junk)), { numRuns: RUNS / 2 });
    assert.equal((await app.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });
}

/**
 * The hosted pages' passkey endpoints (served as localhost, where the pages have passkeys):
 * random forms and JSON with the right CSRF cookie and token, so bodies reach the
 * verifier, with live page mfa_tokens too. Never a 5xx or a stack trace; never signed in.
 */
test('fuzz the sign-in pages\' passkey endpoints: POST /signin/passkey and /signin/passkey/options', { timeout: 180_000 }, async (t) => {
  const app = await buildTestApp(t, {
    PUBLIC_URL: 'http://localhost:8000',
    RATE_LIMIT_LOGIN_PER_MINUTE: '1000000',
    LOCKOUT_ACCOUNT_FAILURES: '1000000',
    LOCKOUT_ACCOUNT_IP_FAILURES: '1000000',
  });
  await register(app, { username: 'second' });
  await enrolTotp(app, (await login(app, 'second')).access_token);
  const csrf = 'c'.repeat(43);
  const cookie = `gatehouse_csrf=${csrf}`;
  const pageToken = async (): Promise<string> => {
    const res = await app.app.inject({
      method: 'POST',
      url: '/signin',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ csrf_token: csrf, username: 'second', password: PASSWORD }).toString(),
      remoteAddress: freshIp(),
    });
    return /name="mfa_token" value="([^"]+)"/.exec(res.body)![1]!;
  };
  let live = await pageToken();
  const responseField = fc.oneof(str, credential.map((c) => JSON.stringify(c)));
  const fields = fc.record(
    { csrf_token: fc.oneof(fc.constant(csrf), str), mfa_token: fc.oneof(str, fc.constant(null).map(() => live)), response: responseField, authorize: str, factors: str },
    { requiredKeys: [] },
  );
  for (const url of ['/signin/passkey', '/signin/passkey/options']) {
    const check = async (contentType: string, payload: string) => {
      const res = await app.app.inject({ method: 'POST', url, headers: { cookie, 'content-type': contentType }, payload, remoteAddress: freshIp() });
      assert.ok(res.statusCode < 500, `${url} ${payload.slice(0, 300)} → ${res.statusCode} ${res.body.slice(0, 300)}`);
      assert.doesNotMatch(res.body, /at .+\.(ts|js):\d+/, 'no stack trace');
      assert.doesNotMatch(String(res.headers['set-cookie'] ?? ''), /gatehouse_session=[^;]/, 'never signed in');
      assert.deepEqual(Object.keys(Object.prototype), []);
    };
    await fc.assert(
      fc.asyncProperty(fields, (f) => check('application/x-www-form-urlencoded', new URLSearchParams(f as Record<string, string>).toString())),
      { numRuns: RUNS },
    );
    live = await pageToken();
    await fc.assert(fc.asyncProperty(fields, (f) => check('application/json', JSON.stringify(f))), { numRuns: RUNS });
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 200 }), (junk) => check('application/json', junk)), { numRuns: RUNS / 2 });
  }
  assert.equal((await app.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
});
