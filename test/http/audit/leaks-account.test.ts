/**
 * Nothing secret in the audit trail or the logs (2 of 2): password change and the ways a
 * session ends, then password reset and account deletion, each scanned at the end
 * (test/helpers/audit-leaks.ts).
 */
import { test } from 'node:test';
import { auth, call, loginAs, sidOf } from '../../helpers/audit.js';
import { EMAIL, FORM, assertNoLeaks, scanAccount, startScan } from '../../helpers/audit-leaks.js';
import { linkToken } from '../../helpers/smtp.js';

test('no secret in the trail or the logs: password change, logout, session and token revocation, logout of all', async (t) => {
  const s = await startScan(t);
  const { app, ok, ip, P1, P2, wrong } = s;
  const userId = await scanAccount(s);
  const b = s.tokens(await loginAs(app, 'scanner', P1, ip()), 'login b');

  // Password change: wrong current password, then the right one.
  ok(await call(app, '/password/change', { headers: auth(b.access_token), payload: { current_password: wrong(5), new_password: P2 }, ip: ip() }), 403, 'change with a wrong password');
  ok(await call(app, '/password/change', { headers: auth(b.access_token), payload: { current_password: P1, new_password: P2 }, ip: ip() }), 200, 'change');
  await s.snapshot();

  // Sessions: log out with a second session's refresh token in the body, revoke one, revoke tokens (RFC 7009), log out of all.
  const d = s.tokens(await loginAs(app, 'scanner', P2, ip()), 'login d');
  const e = s.tokens(await loginAs(app, 'scanner', P2, ip()), 'login e');
  const f = s.tokens(await loginAs(app, 'scanner', P2, ip()), 'login f');
  const g = s.tokens(await loginAs(app, 'scanner', P2, ip()), 'login g');
  await s.snapshot();
  ok(await call(app, '/logout', { headers: auth(d.access_token), payload: { refresh_token: e.refresh_token }, ip: ip() }), 200, 'logout');
  ok(await call(app, `/sessions/${sidOf(f.access_token)}`, { method: 'DELETE', headers: auth(g.access_token), ip: ip() }), 204, 'revoke a session');
  ok(await call(app, '/oauth/revoke', { payload: { token: g.access_token, token_type_hint: 'access_token' }, ip: ip() }), 200, 'revoke an access token');
  ok(await call(app, '/oauth/revoke', { payload: `token=${encodeURIComponent(g.refresh_token)}`, headers: FORM, ip: ip() }), 200, 'revoke a refresh token');
  const h = s.tokens(await loginAs(app, 'scanner', P2, ip()), 'login h');
  ok(await call(app, '/logout/all', { headers: auth(h.access_token), ip: ip() }), 200, 'logout all');

  await assertNoLeaks(s, { userId, types: ['password_changed', 'logout', 'session_revoked', 'token_revoked', 'logout_all'], minSecrets: 10, minLogLines: 10 });
});

test('no secret in the trail or the logs: password reset and account deletion', async (t) => {
  const s = await startScan(t);
  const { app, ok, ip, P3, wrong } = s;
  const userId = await scanAccount(s);

  // Password reset: an unknown address, the real one, the page, a bad token, a weak password, the reset.
  ok(await call(app, '/password/forgot', { payload: { email: 'nobody@example.com' }, ip: ip() }), 202, 'forgot (unknown)');
  ok(await call(app, '/password/forgot', { payload: { email: EMAIL }, ip: ip() }), 202, 'forgot');
  const reset = s.mark(linkToken(await s.smtp.next(EMAIL), '/password/reset').token, 'the password reset token');
  await s.snapshot();
  ok(await call(app, `/password/reset?token=${encodeURIComponent(reset)}`, { method: 'GET', ip: ip() }), 200, 'reset page');
  ok(await call(app, '/password/reset', { payload: { token: `${reset}x`, new_password: P3 }, ip: ip() }), 400, 'bad reset token');
  ok(await call(app, '/password/reset', { payload: { token: reset, new_password: 'Zq9-SECRET' }, ip: ip() }), 400, 'weak new password');
  ok(await call(app, '/password/reset', { payload: `token=${encodeURIComponent(reset)}&new_password=${encodeURIComponent(P3)}`, headers: FORM, ip: ip() }), 200, 'reset');
  ok(await call(app, '/password/reset', { payload: { token: reset, new_password: P3 }, ip: ip() }), 400, 'reset again');

  // Then the account goes (a wrong password first).
  const last = s.tokens(await loginAs(app, 'scanner', P3, ip()), 'last login');
  await s.snapshot();
  ok(await call(app, '/me', { method: 'DELETE', headers: auth(last.access_token), payload: { password: wrong(6) }, ip: ip() }), 403, 'delete with a wrong password');
  ok(await call(app, '/me', { method: 'DELETE', headers: auth(last.access_token), payload: { password: P3 }, ip: ip() }), 204, 'delete');

  await assertNoLeaks(s, { userId, types: ['password_reset_requested', 'password_reset', 'account_deleted'], minSecrets: 10, minLogLines: 10 });
});
