/**
 * Nothing secret in the audit trail or the logs (1 of 2): the leak finder itself, then
 * registration and email verification, logins and the OAuth endpoints, refresh and the
 * authenticated reads, each scanned at the end (test/helpers/audit-leaks.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auth, call, loginAs } from '../../helpers/audit.js';
import { EMAIL, FORM, assertNoLeaks, findLeaks, scanAccount, startScan } from '../../helpers/audit-leaks.js';
import { linkToken } from '../../helpers/smtp.js';

test('the leak finder finds what it looks for', () => {
  const secrets = new Map([['c2VjcmV0LWhhc2gtdmFsdWU', 'a stored token hash']]);
  const found = (text: string) => findLeaks([{ where: 'x', text }], secrets).map((l) => l.what);
  assert.deepEqual(found('{"msg":"request","url":"/email/verify?token=[redacted]"}'), []);
  assert.deepEqual(found('link https://a/email/verify?token=ghm_abc'), ['a ghm_ email token']);
  assert.deepEqual(found('hash $argon2id$v=19$m=1024'), ['an argon2 hash']);
  assert.deepEqual(found('{"kty":"OKP","d":"abc"}'), ['a private JWK member']);
  assert.deepEqual(found('x c2VjcmV0LWhhc2gtdmFsdWU y'), ['a stored token hash']);
  assert.deepEqual(found('Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.sig'), ['a JWT']);
});

test('no secret in the trail or the logs: registration and email verification', async (t) => {
  const s = await startScan(t);
  const { app, ok, ip, P1, wrong } = s;

  // Registration, refused and accepted.
  ok(await call(app, '/register', { payload: { username: 'scanner', email: EMAIL, password: P1, confirm_password: wrong(1) }, ip: ip() }), 400, 'mismatched confirmation');
  ok(await call(app, '/register', { payload: { username: 'scanner', email: EMAIL, password: 'Zq9-SECRET' }, ip: ip() }), 400, 'too short');
  ok(await call(app, '/register', { payload: { username: 'scanner', email: EMAIL, password: P1, confirm_password: P1 }, ip: ip() }), 200, 'register');
  const userId = (await app.stores.users.findByLogin('scanner'))!.id;
  ok(await call(app, '/register', { payload: { username: 'scanner', email: EMAIL, password: P1 }, ip: ip() }), 400, 'register again');

  // Email verification: the page (GET with the token in the URL), a bad token, the form POST.
  const verify = s.mark(linkToken(await s.smtp.next(EMAIL), '/email/verify').token, 'the email verification token');
  ok(await call(app, `/email/verify?token=${encodeURIComponent(verify)}`, { method: 'GET', ip: ip() }), 200, 'verification page');
  ok(await call(app, '/email/verify', { payload: { token: `${verify}x` }, ip: ip() }), 400, 'bad verification token');
  ok(await call(app, '/email/verify', { payload: `token=${encodeURIComponent(verify)}`, headers: FORM, ip: ip() }), 200, 'verify');

  // Verification requested again, signed in and by address (already verified: nothing to send).
  const b = s.tokens(await loginAs(app, 'scanner', P1, ip()), 'login b');
  ok(await call(app, '/email/verify/request', { headers: auth(b.access_token), ip: ip() }), 202, 'verify request (already verified)');
  ok(await call(app, '/email/verify/request', { payload: { email: EMAIL }, ip: ip() }), 202, 'verify request by address');

  await assertNoLeaks(s, { userId, types: ['registered', 'email_verification_sent', 'email_verified'], minSecrets: 10, minLogLines: 10 });
  // The URL that carried the token was logged, masked (so the scan saw it).
  assert.ok(app.logs.some((line) => line.includes('/email/verify?token=[redacted]')), 'the verification page request was logged, masked');
});

test('no secret in the trail or the logs: logins, the OAuth token endpoint, introspection', async (t) => {
  const s = await startScan(t);
  const { app, ok, ip, P1, wrong } = s;
  const userId = await scanAccount(s);

  // A confidential client, for the OAuth endpoints.
  const client = await app.clients.create({ id: 'scan-app', grantTypes: ['password', 'refresh_token'], confidential: true, now: new Date() });
  const clientSecret = s.mark(client.secret!, 'the client secret');
  const basic = { authorization: `Basic ${Buffer.from(`scan-app:${clientSecret}`).toString('base64')}` };

  // Logins: JSON, the OAuth2 password form, wrong passwords, a password typed into the username field.
  s.tokens(ok(await call(app, '/login', { payload: { username: 'scanner', password: P1 }, ip: ip() }), 200, 'login').json(), 'login');
  s.tokens(ok(await call(app, '/login', { payload: `grant_type=password&username=scanner&password=${encodeURIComponent(P1)}`, headers: FORM, ip: ip() }), 200, 'form login').json(), 'form login');
  ok(await call(app, '/login', { payload: { username: 'scanner', password: wrong(2) }, ip: ip() }), 401, 'wrong password');
  ok(await call(app, '/login', { payload: { username: s.mark('Zq9-SECRET-pw-in-the-username', 'a password typed as the username'), password: P1 }, ip: ip() }), 401, 'typo');
  ok(await call(app, `/login?password=${encodeURIComponent(wrong(3))}`, { payload: { username: 'scanner', password: wrong(4) }, ip: ip() }), 401, 'password in the query');

  // OAuth token endpoint: password grant (client_secret_post), refresh grant (client_secret_basic), a bad secret.
  const c = s.tokens(
    ok(
      await call(app, '/oauth/token', { payload: `grant_type=password&username=scanner&password=${encodeURIComponent(P1)}&client_id=scan-app&client_secret=${clientSecret}`, headers: FORM, ip: ip() }),
      200,
      'password grant',
    ).json(),
    'password grant',
  );
  const c2 = s.tokens(
    ok(await call(app, '/oauth/token', { payload: `grant_type=refresh_token&refresh_token=${encodeURIComponent(c.refresh_token)}`, headers: { ...FORM, ...basic }, ip: ip() }), 200, 'refresh grant').json(),
    'refresh grant',
  );
  const badSecret = s.mark(`${clientSecret.slice(0, 20)}-SECRET-wrong`, 'a wrong client secret');
  ok(await call(app, '/oauth/token', { payload: `grant_type=password&username=scanner&password=${encodeURIComponent(P1)}&client_id=scan-app&client_secret=${badSecret}`, headers: FORM, ip: ip() }), 401, 'bad client secret');

  // Introspection of both kinds, and of garbage.
  for (const token of [c2.access_token, c2.refresh_token, 'Zq9-SECRET-garbage-token']) {
    s.mark(token, 'an introspected token');
    ok(await call(app, '/oauth/introspect', { payload: `token=${encodeURIComponent(token)}`, headers: { ...FORM, ...basic }, ip: ip() }), 200, 'introspect');
  }

  await assertNoLeaks(s, { userId, types: ['login_succeeded', 'login_failed'], minSecrets: 10, minLogLines: 10 });
});

test('no secret in the trail or the logs: refresh (body, query, unknown, reuse) and authenticated reads', async (t) => {
  const s = await startScan(t);
  const { app, ok, ip, P1 } = s;
  const userId = await scanAccount(s);
  const a = s.tokens(await loginAs(app, 'scanner', P1, ip()), 'login a');
  const b = s.tokens(await loginAs(app, 'scanner', P1, ip()), 'login b');

  // /refresh: body, the deprecated query parameter, an unknown token.
  const a2 = s.tokens(ok(await call(app, '/refresh', { payload: { refresh_token: a.refresh_token }, ip: ip() }), 200, 'refresh').json(), 'refresh');
  const a3 = s.tokens(ok(await call(app, `/refresh?refresh_token=${encodeURIComponent(a2.refresh_token)}`, { ip: ip() }), 200, 'query refresh').json(), 'query refresh');
  ok(await call(app, '/refresh', { payload: { refresh_token: s.mark('ghr_Zq9-SECRET-unknown-refresh', 'an unknown refresh token') }, ip: ip() }), 401, 'unknown refresh');
  await s.snapshot();

  // Reuse after the (zero) grace window ends the session.
  await new Promise((r) => setTimeout(r, 20));
  ok(await call(app, '/refresh', { payload: { refresh_token: a2.refresh_token }, ip: ip() }), 401, 'reuse');
  ok(await call(app, '/refresh', { payload: { refresh_token: a3.refresh_token }, ip: ip() }), 401, 'child after reuse');

  // Authenticated reads, with a valid, a revoked and a malformed bearer token.
  ok(await call(app, '/me', { method: 'GET', headers: auth(b.access_token), ip: ip() }), 200, 'me');
  ok(await call(app, '/sessions', { method: 'GET', headers: auth(b.access_token), ip: ip() }), 200, 'sessions');
  ok(await call(app, '/me', { method: 'GET', headers: auth(a3.access_token), ip: ip() }), 401, 'me with a revoked token');
  ok(await call(app, '/me', { method: 'GET', headers: auth(s.mark('Zq9-SECRET-not-a-jwt', 'a malformed bearer token')), ip: ip() }), 401, 'me with garbage');

  await assertNoLeaks(s, { userId, types: ['refresh_reuse_detected'], minSecrets: 10, minLogLines: 10 });
  // The URL that carried the token was logged, masked (so the scan saw it).
  assert.ok(app.logs.some((line) => line.includes('/refresh?refresh_token=[redacted]')), 'the deprecated query refresh was logged, masked');
});
