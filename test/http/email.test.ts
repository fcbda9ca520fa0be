/** Email verification and password reset against a real SMTP server on loopback. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, PASSWORD, buildTestApp, freshIp, login, me, refresh, register } from '../helpers/app.js';
import { linkToken, startSmtp } from '../helpers/smtp.js';

const NEW_PASSWORD = 'FreshStart42';

async function setup(t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}, clock?: FakeClock) {
  const smtp = await startSmtp(t);
  const app = await buildTestApp(t, { SMTP_URL: smtp.url, MAIL_FROM: 'Gatehouse <auth@example.com>', PUBLIC_URL: 'https://auth.example.com', ...env }, clock ? { clock } : {});
  return { smtp, app };
}

const post = (app: Awaited<ReturnType<typeof setup>>['app'], url: string, payload: Record<string, string>, headers: Record<string, string> = {}) =>
  app.app.inject({ method: 'POST', url, payload, headers, remoteAddress: freshIp() });

test('registration mails a verification link; it works once and only once', async (t) => {
  const { smtp, app } = await setup(t);
  await register(app, { username: 'alice', email: 'alice@example.com' });
  const mail = await smtp.next('alice@example.com');
  assert.equal(mail.subject, 'Verify your email address');
  assert.match(mail.html, /<a href="https:\/\/auth\.example\.com\/email\/verify\?token=/);
  const { link, token } = linkToken(mail, '/email/verify');
  assert.ok(link.startsWith('https://auth.example.com/email/verify?token=ghm_'));

  // Following the link only shows a page; it consumes nothing.
  const pageRes = await app.app.inject({ method: 'GET', url: `/email/verify?token=${encodeURIComponent(token)}` });
  assert.equal(pageRes.statusCode, 200);
  assert.match(String(pageRes.headers['content-type']), /text\/html/);
  assert.match(pageRes.body, /<form method="post" action="\/email\/verify">/);

  const tokens = await login(app, 'alice');
  assert.equal((await me(app, tokens.access_token)).json().email_verified, false);
  const first = await post(app, '/email/verify', { token });
  assert.equal(first.statusCode, 200, first.body);
  assert.equal((await me(app, tokens.access_token)).json().email_verified, true);
  const again = await post(app, '/email/verify', { token });
  assert.equal(again.statusCode, 400);
  assert.equal(again.json().errors[0].field, 'token');
  // The form the page posts works the same way (and refuses the used token too).
  const form = await app.app.inject({ method: 'POST', url: '/email/verify', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${encodeURIComponent(token)}` });
  assert.equal(form.statusCode, 400);
});

test('an expired verification token is refused; a new one can be requested with or without a token', async (t) => {
  const clock = new FakeClock();
  const { smtp, app } = await setup(t, {}, clock);
  await register(app, { username: 'bob', email: 'bob@example.com' });
  const { token } = linkToken(await smtp.next('bob@example.com'), '/email/verify');
  clock.advance(24 * 3600_000 + 1_000);
  assert.equal((await post(app, '/email/verify', { token })).statusCode, 400);

  // Unauthenticated: by address, answered alike for unknown addresses.
  const byAddress = await post(app, '/email/verify/request', { email: 'bob@example.com' });
  const unknown = await post(app, '/email/verify/request', { email: 'nobody@example.com' });
  assert.equal(byAddress.statusCode, 202);
  assert.equal(unknown.statusCode, 202);
  assert.equal(byAddress.body, unknown.body);
  const fresh = linkToken(await smtp.next('bob@example.com'), '/email/verify');
  assert.equal((await post(app, '/email/verify', { token: fresh.token })).statusCode, 200);

  // Authenticated, once verified: nothing more is sent.
  const tokens = await login(app, 'bob');
  const again = await app.app.inject({ method: 'POST', url: '/email/verify/request', headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(again.statusCode, 202);
  await app.emailFlows!.drain();
  assert.equal(smtp.to('bob@example.com').length, 2);
  assert.equal(smtp.to('nobody@example.com').length, 0);
});

test('REQUIRE_VERIFIED_EMAIL: login is a clear 403 until verified, and only with the right password', async (t) => {
  const { smtp, app } = await setup(t, { REQUIRE_VERIFIED_EMAIL: 'true' });
  await register(app, { username: 'carol', email: 'carol@example.com' });
  const wrong = await post(app, '/login', { username: 'carol', password: 'WrongPass1' });
  assert.equal(wrong.statusCode, 401, 'a guesser learns nothing about verification');
  const blocked = await post(app, '/login', { username: 'carol', password: PASSWORD });
  assert.equal(blocked.statusCode, 403);
  assert.equal(blocked.json().code, 'email_not_verified');
  assert.match(blocked.json().detail, /verify/i);
  const { token } = linkToken(await smtp.next('carol@example.com'), '/email/verify');
  assert.equal((await post(app, '/email/verify', { token })).statusCode, 200);
  await login(app, 'carol');
});

test('forgot: the same 202 for known and unknown addresses; the unknown one sends nothing', async (t) => {
  const { smtp, app } = await setup(t, { EMAIL_VERIFY_ON_REGISTER: 'false' });
  await register(app, { username: 'dave', email: 'dave@example.com' });
  const known = await post(app, '/password/forgot', { email: 'DAVE@example.com' });
  const unknown = await post(app, '/password/forgot', { email: 'ghost@example.com' });
  assert.equal(known.statusCode, 202);
  assert.equal(unknown.statusCode, 202);
  assert.equal(known.body, unknown.body);
  assert.deepEqual(Object.keys(known.headers).sort(), Object.keys(unknown.headers).sort());
  const mail = await smtp.next('dave@example.com');
  assert.equal(mail.subject, 'Reset your password');
  await app.emailFlows!.drain();
  assert.equal(smtp.mails.length, 1, 'nothing for the unknown address, no verification mail either');
});

test('reset: the link works once, sets the password under the policy, and revokes every session', async (t) => {
  const { smtp, app } = await setup(t, { EMAIL_VERIFY_ON_REGISTER: 'false' });
  await register(app, { username: 'erin', email: 'erin@example.com' });
  const before = [await login(app, 'erin'), await login(app, 'erin')];
  await post(app, '/password/forgot', { email: 'erin@example.com' });
  const { token } = linkToken(await smtp.next('erin@example.com'), '/password/reset');

  const pageRes = await app.app.inject({ method: 'GET', url: `/password/reset?token=${encodeURIComponent(token)}` });
  assert.match(pageRes.body, /name="new_password"/);
  const weak = await post(app, '/password/reset', { token, new_password: 'weak' });
  assert.equal(weak.statusCode, 400);
  assert.ok(weak.json().errors.some((e: { field: string }) => e.field === 'new_password'));

  const ok = await post(app, '/password/reset', { token, new_password: NEW_PASSWORD });
  assert.equal(ok.statusCode, 200, ok.body);
  for (const s of before) {
    assert.equal((await me(app, s.access_token)).statusCode, 401, 'old access token revoked');
    assert.equal((await refresh(app, s.refresh_token)).statusCode, 401, 'old refresh token revoked');
  }
  await assert.rejects(login(app, 'erin'), /401/);
  await login(app, 'erin', NEW_PASSWORD);
  const reused = await post(app, '/password/reset', { token, new_password: 'Another99x' });
  assert.equal(reused.statusCode, 400, 'single use');
});

test('reset tokens expire after 30 minutes, and a newer link supersedes an older one', async (t) => {
  const clock = new FakeClock();
  const { smtp, app } = await setup(t, { EMAIL_VERIFY_ON_REGISTER: 'false' }, clock);
  await register(app, { username: 'frank', email: 'frank@example.com' });
  await post(app, '/password/forgot', { email: 'frank@example.com' });
  const first = linkToken(await smtp.next('frank@example.com'), '/password/reset');
  clock.advance(31 * 60_000);
  assert.equal((await post(app, '/password/reset', { token: first.token, new_password: NEW_PASSWORD })).statusCode, 400, 'expired');

  await post(app, '/password/forgot', { email: 'frank@example.com' });
  const second = linkToken(await smtp.next('frank@example.com'), '/password/reset');
  await post(app, '/password/forgot', { email: 'frank@example.com' });
  const third = linkToken(await smtp.next('frank@example.com'), '/password/reset');
  assert.equal((await post(app, '/password/reset', { token: second.token, new_password: NEW_PASSWORD })).statusCode, 400, 'superseded');
  assert.equal((await post(app, '/password/reset', { token: third.token, new_password: NEW_PASSWORD })).statusCode, 200);
  // A verification token is no reset token (and the reverse).
  assert.equal((await post(app, '/email/verify', { token: third.token })).statusCode, 400);
});

test('mails per address are limited whatever the IP; /password/forgot is limited per IP', async (t) => {
  const { smtp, app } = await setup(t, { EMAIL_VERIFY_ON_REGISTER: 'false' });
  await register(app, { username: 'gina', email: 'gina@example.com' });
  for (let i = 0; i < 5; i++) {
    assert.equal((await post(app, '/password/forgot', { email: 'gina@example.com' })).statusCode, 202);
  }
  await app.emailFlows!.drain();
  assert.equal(smtp.to('gina@example.com').length, 3, 'EMAIL_PER_ADDRESS_PER_HOUR=3 by default');

  const ip = '198.51.100.200';
  const statuses = [];
  for (let i = 0; i < 6; i++) {
    const res = await app.app.inject({ method: 'POST', url: '/password/forgot', payload: { email: `x${i}@example.com` }, remoteAddress: ip });
    statuses.push(res.statusCode);
  }
  assert.deepEqual(statuses, [202, 202, 202, 202, 202, 429]);
});

test('EMAIL_FLOWS=false: no email endpoints, registration sends nothing', async (t) => {
  const smtp = await startSmtp(t);
  const app = await buildTestApp(t, { EMAIL_FLOWS: 'false', SMTP_URL: smtp.url });
  await register(app, { username: 'hank' });
  assert.equal((await post(app, '/password/forgot', { email: 'hank@example.com' })).statusCode, 404);
  assert.equal(smtp.mails.length, 0);
});

test('without SMTP_URL in development the mail is logged, clearly marked, with its live link', async (t) => {
  const app = await buildTestApp(t, {});
  await register(app, { username: 'ivy', email: 'ivy@example.com' });
  await app.emailFlows!.drain();
  const line = app.logs.map((l) => JSON.parse(l)).find((l) => /DEVELOPMENT MAIL/.test(l.msg));
  assert.ok(line, 'a development mail line');
  assert.equal(line.mail.to, 'ivy@example.com');
  assert.match(line.mail.text, /\/email\/verify\?token=ghm_/);
});
