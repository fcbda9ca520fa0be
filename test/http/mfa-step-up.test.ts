import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, PASSWORD, buildTestApp, freshIp, login, me, register, sqlRows } from '../helpers/app.js';
import { bearer, claimsOf, codeAt, enrolTotp, mfaLogin, passwordStep } from '../helpers/mfa.js';

const CHALLENGE = /^Bearer .*error="insufficient_user_authentication"/;

test('step-up: without MFA in the session, each protected action answers the RFC 9470 challenge and changes nothing', async (t) => {
  const clock = new FakeClock();
  const app = await buildTestApp(t, {}, { clock });
  await register(app, { username: 'erin' });
  const enrolling = await login(app, 'erin');
  const { factorId, secret } = await enrolTotp(app, enrolling.access_token, clock.now().getTime());
  clock.advance(30_000); // the activation code's step is spent
  // The enrolling session authenticated with the password only.
  const pwdOnly = enrolling.access_token;
  assert.deepEqual(claimsOf(pwdOnly).amr, ['pwd']);

  const actions = [
    { method: 'DELETE' as const, url: `/mfa/factors/${factorId}`, payload: { password: PASSWORD } },
    { method: 'POST' as const, url: '/mfa/recovery-codes', payload: { password: PASSWORD } },
    { method: 'POST' as const, url: '/password/change', payload: { current_password: PASSWORD, new_password: 'AnotherHorse7' } },
    { method: 'DELETE' as const, url: '/me', payload: { password: PASSWORD } },
  ];
  for (const action of actions) {
    const res = await app.app.inject({ ...action, headers: bearer(pwdOnly) });
    assert.equal(res.statusCode, 401, `${action.method} ${action.url}: ${res.body}`);
    assert.match(String(res.headers['www-authenticate']), CHALLENGE, `${action.method} ${action.url}`);
    assert.equal(res.json().code, 'insufficient_user_authentication');
  }
  // Nothing changed: the factor is there, the password is the old one, the account lives.
  assert.equal((await sqlRows(app.dir, 'SELECT id FROM mfa_factors')).length, 1);
  assert.equal((await me(app, pwdOnly)).statusCode, 200);

  // A session that passed MFA may do them all.
  const strong = (await mfaLogin(app, { mfa_token: await passwordStep(app, 'erin'), code: codeAt(secret, clock.now().getTime()) })).json();
  const regen = await app.app.inject({ method: 'POST', url: '/mfa/recovery-codes', headers: bearer(strong.access_token), payload: { password: PASSWORD } });
  assert.equal(regen.statusCode, 200);
  const change = await app.app.inject({
    method: 'POST',
    url: '/password/change',
    headers: bearer(strong.access_token),
    payload: { current_password: PASSWORD, new_password: 'AnotherHorse7' },
  });
  assert.equal(change.statusCode, 200, change.body);
  const remove = await app.app.inject({ method: 'DELETE', url: `/mfa/factors/${factorId}`, headers: bearer(strong.access_token), payload: { password: 'AnotherHorse7' } });
  assert.equal(remove.statusCode, 204, remove.body);
  // The last factor gone, the recovery codes went with it, and the password alone logs in again.
  assert.equal((await sqlRows(app.dir, 'SELECT hash FROM recovery_codes')).length, 0);
  const plain = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'erin', password: 'AnotherHorse7' }, remoteAddress: freshIp() });
  assert.equal(plain.statusCode, 200);
  const removed = await sqlRows<{ type: string }>(app.dir, "SELECT type FROM security_events WHERE type IN ('mfa_factor_removed', 'mfa_recovery_codes_regenerated') ORDER BY id");
  assert.deepEqual(removed.map((r) => r.type), ['mfa_recovery_codes_regenerated', 'mfa_factor_removed']);
});

test('step-up: users without a factor change their password and delete their account as before', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'frank' });
  const tokens = await login(app, 'frank');
  const res = await app.app.inject({
    method: 'POST',
    url: '/password/change',
    headers: bearer(tokens.access_token),
    payload: { current_password: PASSWORD, new_password: 'AnotherHorse7' },
  });
  assert.equal(res.statusCode, 200);
  const del = await app.app.inject({ method: 'DELETE', url: '/me', headers: bearer(tokens.access_token), payload: { password: 'AnotherHorse7' } });
  assert.equal(del.statusCode, 204);
});

test('lockout: wrong codes count toward the account throttle like wrong passwords; 5 kill the mfa_token', async (t) => {
  const app = await buildTestApp(t, { LOCKOUT_ACCOUNT_IP_FAILURES: '100', LOCKOUT_ACCOUNT_FAILURES: '8', RATE_LIMIT_LOGIN_PER_MINUTE: '1000' });
  await register(app, { username: 'gina' });
  const { secret } = await enrolTotp(app, (await login(app, 'gina')).access_token);
  const ip = freshIp();

  const token = await passwordStep(app, 'gina', ip);
  for (let i = 0; i < 5; i++) {
    const res = await mfaLogin(app, { mfa_token: token, code: '000000' }, ip);
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'invalid_mfa_code', `attempt ${i + 1}`);
  }
  const dead = await mfaLogin(app, { mfa_token: token, code: codeAt(secret, Date.now()) }, ip);
  assert.equal(dead.statusCode, 401);
  assert.equal(dead.json().code, 'invalid_mfa_token', 'the sixth try finds the token dead, even with the right code');

  // A right password does not clear the count: three more wrong codes reach the account limit (8).
  const second = await passwordStep(app, 'gina', ip);
  for (let i = 0; i < 3; i++) assert.equal((await mfaLogin(app, { mfa_token: second, code: '000000' }, ip)).statusCode, 401);
  const locked = await mfaLogin(app, { mfa_token: second, code: codeAt(secret, Date.now()) }, ip);
  assert.equal(locked.statusCode, 429, locked.body);
  assert.ok(Number(locked.headers['retry-after']) > 0);
  const pw = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'gina', password: PASSWORD }, remoteAddress: freshIp() });
  assert.equal(pw.statusCode, 429, 'the password step is locked too');
  const events = await sqlRows<{ n: number | string }>(app.dir, "SELECT count(*) AS n FROM security_events WHERE type = 'mfa_failed'");
  assert.equal(Number(events[0]!.n), 8);
});

test('/oauth/token: password grant answers mfa_required, the mfa-otp extension grant completes it; listed in the metadata', async (t) => {
  const clock = new FakeClock();
  const app = await buildTestApp(t, {}, { clock });
  await register(app, { username: 'hana' });
  const { secret, recoveryCodes } = await enrolTotp(app, (await login(app, 'hana')).access_token, clock.now().getTime());
  clock.advance(30_000);
  const grant = (body: Record<string, string>) =>
    app.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(body).toString(),
      remoteAddress: freshIp(),
    });
  const meta = await app.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
  assert.ok(meta.json().grant_types_supported.includes('urn:gatehouse:params:oauth:grant-type:mfa-otp'));

  const first = await grant({ grant_type: 'password', username: 'hana', password: PASSWORD });
  assert.equal(first.statusCode, 403, first.body);
  assert.equal(first.json().error, 'mfa_required');
  assert.equal(typeof first.json().error_description, 'string');
  assert.match(first.json().mfa_token, /^ghf_/);

  const wrong = await grant({ grant_type: 'urn:gatehouse:params:oauth:grant-type:mfa-otp', mfa_token: first.json().mfa_token, otp: '000000' });
  assert.equal(wrong.statusCode, 400);
  assert.equal(wrong.json().error, 'invalid_grant');
  const ok = await grant({ grant_type: 'urn:gatehouse:params:oauth:grant-type:mfa-otp', mfa_token: first.json().mfa_token, otp: codeAt(secret, clock.now().getTime()) });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(claimsOf(ok.json().access_token).amr, ['pwd', 'otp', 'mfa']);

  const again = await grant({ grant_type: 'password', username: 'hana', password: PASSWORD });
  const recovered = await grant({ grant_type: 'urn:gatehouse:params:oauth:grant-type:mfa-otp', mfa_token: again.json().mfa_token, recovery_code: recoveryCodes![0]! });
  assert.equal(recovered.statusCode, 200, recovered.body);

  // An mfa_token from /login is for the default client only, and it works on /oauth/token as that client.
  const missing = await grant({ grant_type: 'urn:gatehouse:params:oauth:grant-type:mfa-otp' });
  assert.equal(missing.statusCode, 400);
  assert.equal(missing.json().error, 'invalid_request');
});
