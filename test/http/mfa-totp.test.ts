import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, PASSWORD, buildTestApp, freshIp, login, me, register, sqlRows } from '../helpers/app.js';
import { bearer, claimsOf, codeAt, enrolTotp, mfaLogin, passwordStep } from '../helpers/mfa.js';
import { openJwk, parseKek } from '../../src/crypto/key-encryption.js';
import { open, SecretBoxError } from '../../src/crypto/secret-box.js';
import { base32 } from '../../src/crypto/totp.js';

test('TOTP: enrol, activate with the first code, then a login needs the code; amr and auth_time in the token', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 10));
  const app = await buildTestApp(t, {}, { clock });
  await register(app, { username: 'alice' });
  const first = await login(app, 'alice');
  assert.deepEqual(claimsOf(first.access_token).amr, ['pwd']);

  const start = await app.app.inject({ method: 'POST', url: '/mfa/totp', headers: bearer(first.access_token), payload: { password: PASSWORD } });
  assert.equal(start.statusCode, 201, start.body);
  const { factor_id, secret, otpauth_uri } = start.json();
  assert.match(otpauth_uri, /^otpauth:\/\/totp\/Gatehouse:alice\?/);
  assert.match(otpauth_uri, new RegExp(`secret=${secret}`));
  // Pending factors are not listed, and the password alone still logs in.
  const pending = await app.app.inject({ method: 'GET', url: '/mfa/factors', headers: bearer(first.access_token) });
  assert.deepEqual(pending.json(), []);
  await login(app, 'alice');

  const wrong = await app.app.inject({ method: 'POST', url: '/mfa/totp/activate', headers: bearer(first.access_token), payload: { factor_id, code: '000000' } });
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json().code, 'invalid_mfa_code');
  const activate = await app.app.inject({
    method: 'POST',
    url: '/mfa/totp/activate',
    headers: bearer(first.access_token),
    payload: { factor_id, code: codeAt(secret, clock.now().getTime()) },
  });
  assert.equal(activate.statusCode, 200, activate.body);
  assert.equal(activate.json().recovery_codes.length, 10);
  assert.equal(new Set(activate.json().recovery_codes).size, 10);

  // The seed is stored sealed, never in the clear; recovery codes only as digests.
  const [row] = await sqlRows<{ secret_sealed: string }>(app.dir, 'SELECT secret_sealed FROM mfa_factors');
  assert.ok(row!.secret_sealed.startsWith('v1.'));
  assert.ok(!row!.secret_sealed.includes(secret));
  const stored = await sqlRows<{ hash: string }>(app.dir, 'SELECT hash FROM recovery_codes');
  assert.equal(stored.length, 10);
  for (const code of activate.json().recovery_codes) assert.ok(!stored.some((r) => r.hash === code));

  const factors = await app.app.inject({ method: 'GET', url: '/mfa/factors', headers: bearer(first.access_token) });
  assert.equal(factors.json().length, 1);
  assert.equal(factors.json()[0].type, 'totp');

  // Wrong password: the same 401 as ever, nothing about a factor.
  const bad = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'Wrong-password1' }, remoteAddress: freshIp() });
  assert.equal(bad.statusCode, 401);
  assert.ok(!bad.body.includes('mfa'));

  const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: PASSWORD }, remoteAddress: freshIp() });
  assert.equal(res.statusCode, 403);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(res.json().code, 'mfa_required');
  assert.deepEqual(res.json().factors, ['totp', 'recovery_code']);
  assert.match(res.json().mfa_token, /^ghf_/);
  assert.equal(res.json().access_token, undefined);

  clock.advance(30_000);
  const ok = await mfaLogin(app, { mfa_token: res.json().mfa_token, code: codeAt(secret, clock.now().getTime()) });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.headers['cache-control'], 'no-store');
  const claims = claimsOf(ok.json().access_token);
  assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  assert.equal(claims.auth_time, Math.floor(clock.now().getTime() / 1000));
  assert.equal((await me(app, ok.json().access_token)).statusCode, 200);

  // The mfa_token is single use.
  const again = await mfaLogin(app, { mfa_token: res.json().mfa_token, code: codeAt(secret, clock.now().getTime()) });
  assert.equal(again.statusCode, 401);
  assert.equal(again.json().code, 'invalid_mfa_token');

  // A refresh keeps the session's amr and auth_time.
  clock.advance(60_000);
  const refreshed = await app.app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: ok.json().refresh_token } });
  assert.equal(refreshed.statusCode, 200);
  assert.deepEqual(claimsOf(refreshed.json().access_token).amr, ['pwd', 'otp', 'mfa']);
  assert.equal(claimsOf(refreshed.json().access_token).auth_time, claims.auth_time);

  // GET /sessions says how each session authenticated.
  const sessions = await app.app.inject({ method: 'GET', url: '/sessions', headers: bearer(refreshed.json().access_token) });
  const current = sessions.json().find((s: { current: boolean }) => s.current);
  assert.deepEqual(current.amr, ['pwd', 'otp', 'mfa']);
});

test('TOTP: a code is accepted once; codes one step away are accepted, two steps away refused', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 10));
  const app = await buildTestApp(t, {}, { clock });
  await register(app, { username: 'bob' });
  const { secret } = await enrolTotp(app, (await login(app, 'bob')).access_token, clock.now().getTime());

  clock.advance(5 * 30_000);
  const now = clock.now().getTime();
  const code = codeAt(secret, now);
  assert.equal((await mfaLogin(app, { mfa_token: await passwordStep(app, 'bob'), code })).statusCode, 200);
  const replay = await mfaLogin(app, { mfa_token: await passwordStep(app, 'bob'), code });
  assert.equal(replay.statusCode, 401);
  assert.equal(replay.json().code, 'invalid_mfa_code');

  // One step later (the next step's code): accepted.
  clock.advance(3 * 30_000);
  const t0 = clock.now().getTime();
  const ahead = await mfaLogin(app, { mfa_token: await passwordStep(app, 'bob'), code: codeAt(secret, t0 + 30_000) });
  assert.equal(ahead.statusCode, 200, ahead.body);
  // Two steps away: refused, before or after.
  clock.advance(4 * 30_000);
  const t1 = clock.now().getTime();
  for (const far of [t1 + 60_000, t1 - 60_000]) {
    const res = await mfaLogin(app, { mfa_token: await passwordStep(app, 'bob'), code: codeAt(secret, far) });
    assert.equal(res.statusCode, 401, `code for ${far - t1} ms away`);
  }
  // One step earlier: accepted.
  clock.advance(4 * 30_000);
  const t2 = clock.now().getTime();
  const behind = await mfaLogin(app, { mfa_token: await passwordStep(app, 'bob'), code: codeAt(secret, t2 - 30_000) });
  assert.equal(behind.statusCode, 200, behind.body);
});

test('recovery codes: each works once, in any case and spacing; regeneration kills the old ones', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'carol' });
  const { recoveryCodes, secret } = await enrolTotp(app, (await login(app, 'carol')).access_token);
  const [code0, code1] = recoveryCodes!;

  const used = await mfaLogin(app, { mfa_token: await passwordStep(app, 'carol'), recovery_code: code0!.toUpperCase().replace(/-/g, ' ') });
  assert.equal(used.statusCode, 200, used.body);
  assert.deepEqual(claimsOf(used.json().access_token).amr, ['pwd', 'otp', 'mfa']);
  const twice = await mfaLogin(app, { mfa_token: await passwordStep(app, 'carol'), recovery_code: code0! });
  assert.equal(twice.statusCode, 401);
  assert.equal(twice.json().code, 'invalid_mfa_code');

  // Regenerate from the MFA session: new codes, the old ones die.
  const regen = await app.app.inject({ method: 'POST', url: '/mfa/recovery-codes', headers: bearer(used.json().access_token), payload: { password: 'CorrectHorse9' } });
  assert.equal(regen.statusCode, 200, regen.body);
  assert.equal(regen.json().recovery_codes.length, 10);
  const old = await mfaLogin(app, { mfa_token: await passwordStep(app, 'carol'), recovery_code: code1! });
  assert.equal(old.statusCode, 401);
  const fresh = await mfaLogin(app, { mfa_token: await passwordStep(app, 'carol'), recovery_code: regen.json().recovery_codes[3] });
  assert.equal(fresh.statusCode, 200);
  assert.ok(secret);

  // Both or neither of code / recovery_code: 400.
  const both = await mfaLogin(app, { mfa_token: await passwordStep(app, 'carol'), code: '123456', recovery_code: 'x' });
  assert.equal(both.statusCode, 400);
});

test('enrolling the first factor ends every other session; the audit trail records each factor change', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'dave' });
  const other = await login(app, 'dave');
  const mine = await login(app, 'dave');
  const { factorId } = await enrolTotp(app, mine.access_token);
  assert.equal((await me(app, other.access_token)).statusCode, 401, 'the other session never passed MFA');
  assert.equal((await me(app, mine.access_token)).statusCode, 200, 'the enrolling session goes on');

  const events = await sqlRows<{ type: string; detail: string }>(app.dir, "SELECT type, detail FROM security_events WHERE type LIKE 'mfa_%' ORDER BY id");
  assert.deepEqual(
    events.map((e) => e.type).slice(0, 2),
    ['mfa_totp_enrolment_started', 'mfa_factor_added'],
  );
  const added = JSON.parse(events[1]!.detail);
  assert.equal(added.factor_id, factorId);
  assert.equal(added.first, true);
  assert.equal(added.sessions_revoked, 1);
});

test('TOTP seeds are sealed under the signing keys\' key-encryption key, bound to their factor id', async (t) => {
  const kekText = Buffer.alloc(32, 11).toString('base64');
  const app = await buildTestApp(t, { KEY_ENCRYPTION_KEY: kekText });
  await register(app, { username: 'ivan' });
  const { access_token } = await login(app, 'ivan');
  const { factorId, secret } = await enrolTotp(app, access_token);
  const [row] = await sqlRows<{ secret_sealed: string }>(app.dir, 'SELECT secret_sealed FROM mfa_factors');
  const kek = parseKek(kekText)!;
  assert.equal(base32(open(kek, row!.secret_sealed, factorId)), secret, 'opens with KEY_ENCRYPTION_KEY');
  assert.throws(() => open(kek, row!.secret_sealed, 'another-factor'), SecretBoxError, 'bound to its row');
  assert.throws(() => open(Buffer.alloc(32, 12), row!.secret_sealed, factorId), SecretBoxError, 'and to the key');
  // The same key seals the signing keys: one secret to keep out of backups, not two.
  const [key] = await sqlRows<{ kid: string; private_jwk: unknown }>(app.dir, "SELECT kid, private_jwk FROM signing_keys WHERE alg <> 'device-hmac'");
  const sealed = typeof key!.private_jwk === 'string' ? JSON.parse(key!.private_jwk) : key!.private_jwk;
  assert.ok(openJwk(kek, key!.kid, sealed).d);
});
