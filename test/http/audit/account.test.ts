/**
 * The audit trail, one entry per event (3 of 3): the account itself: password change,
 * password reset (requested for a known and an unknown address, done), email verification,
 * account deletion. Helpers: test/helpers/audit.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, buildTestApp, login, register } from '../../helpers/app.js';
import { clientIp, auth, call, entries, only, assertWho, withSmtp } from '../../helpers/audit.js';
import { linkToken } from '../../helpers/smtp.js';

test('password_changed: by whom, from where', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'pat' });
  const tokens = await login(app, 'pat');
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/password/change', { headers: auth(tokens.access_token), payload: { current_password: PASSWORD, new_password: 'Another-Pass-77' }, ip, ua: 'Settings/2' });
  assert.equal(res.statusCode, 200, res.body);
  const entry = await only(app, 'password_changed', id);
  assertWho(entry, { userId: id, ip, ua: 'Settings/2', since });
  assert.equal(entry.detail, null);
});

test('password_reset_requested and password_reset: forgot, the mailed link, the reset', async (t) => {
  const { app, smtp } = await withSmtp(t);
  const { id } = await register(app, { username: 'rosa', email: 'rosa@example.com' });
  await smtp.next('rosa@example.com'); // the verification mail

  const forgotIp = clientIp();
  const forgotSince = Date.now();
  const forgot = await call(app, '/password/forgot', { payload: { email: 'rosa@example.com' }, ip: forgotIp, ua: 'Forgetful/1' });
  assert.equal(forgot.statusCode, 202);
  await app.emailFlows!.drain(); // recorded after the answer, with the rest of the work
  const requested = await only(app, 'password_reset_requested', id);
  assertWho(requested, { userId: id, ip: forgotIp, ua: 'Forgetful/1', since: forgotSince });
  assert.deepEqual(requested.detail, { known: true });

  const { token } = linkToken(await smtp.next('rosa@example.com'), '/password/reset');
  const ip = clientIp();
  const since = Date.now();
  const reset = await call(app, '/password/reset', { payload: { token, new_password: 'Reset-Pass-88' }, ip, ua: 'Mailclient/5' });
  assert.equal(reset.statusCode, 200, reset.body);
  const entry = await only(app, 'password_reset', id);
  assertWho(entry, { userId: id, ip, ua: 'Mailclient/5', since });
  assert.equal(entry.detail, null);

  // A second use of the link fails and records no second reset.
  assert.equal((await call(app, '/password/reset', { payload: { token, new_password: 'Reset-Pass-99' }, ip: clientIp() })).statusCode, 400);
  assert.equal((await entries(app, 'password_reset')).length, 1);
});

test('password_reset_requested for an unknown address: known false, no user', async (t) => {
  const { app } = await withSmtp(t);
  await register(app, { username: 'ursula' });
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/password/forgot', { payload: { email: 'nobody-here@example.com' }, ip, ua: 'Prober/1' });
  assert.equal(res.statusCode, 202);
  await app.emailFlows!.drain(); // recorded after the answer, with the rest of the work
  const entry = await only(app, 'password_reset_requested');
  assertWho(entry, { userId: null, ip, ua: 'Prober/1', since });
  assert.deepEqual(entry.detail, { known: false });
  assert.doesNotMatch(JSON.stringify(entry), /nobody-here/, 'the address typed is not recorded');
});

test('email_verification_sent and email_verified: registration mails the link, POST /email/verify consumes it', async (t) => {
  const { app, smtp } = await withSmtp(t);
  const regIp = clientIp();
  const regSince = Date.now();
  const reg = await call(app, '/register', { payload: { username: 'vera', email: 'vera@example.com', password: PASSWORD }, ip: regIp, ua: 'Signup/1' });
  assert.equal(reg.statusCode, 200);
  const id = (await app.stores.users.findByLogin('vera'))!.id;
  assertWho(await only(app, 'email_verification_sent', id), { userId: id, ip: regIp, ua: 'Signup/1', since: regSince });

  const { token } = linkToken(await smtp.next('vera@example.com'), '/email/verify');
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/email/verify', { payload: { token }, ip, ua: 'Webmail/7' });
  assert.equal(res.statusCode, 200, res.body);
  const entry = await only(app, 'email_verified', id);
  assertWho(entry, { userId: id, ip, ua: 'Webmail/7', since });
  assert.equal(entry.detail, null);
});

test('account_deleted: DELETE /me with the password', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'dora' });
  const tokens = await login(app, 'dora');
  const wrong = await call(app, '/me', { method: 'DELETE', headers: auth(tokens.access_token), payload: { password: 'Not-Her-Pass1' }, ip: clientIp() });
  assert.equal(wrong.statusCode, 403);
  assert.equal((await entries(app, 'account_deleted')).length, 0);

  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/me', { method: 'DELETE', headers: auth(tokens.access_token), payload: { password: PASSWORD }, ip, ua: 'Goodbye/1' });
  assert.equal(res.statusCode, 204, res.body);
  const entry = await only(app, 'account_deleted', id);
  assertWho(entry, { userId: id, ip, ua: 'Goodbye/1', since });
});
