/**
 * The audit trail, one entry per event (1 of 3): registration, the entry's time, successful
 * and failed logins, the lockout. Helpers: test/helpers/audit.ts.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { FakeClock, PASSWORD, buildTestApp, register } from '../../helpers/app.js';
import { clientIp, call, loginAs, entries, only, assertWho, withSmtp } from '../../helpers/audit.js';

test('registered: user, time, IP and User-Agent of the registration', async (t) => {
  const app = await buildTestApp(t);
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/register', { payload: { username: 'reggie', email: 'reggie@example.com', password: PASSWORD }, ip, ua: 'Signup/3.1' });
  assert.equal(res.statusCode, 200, res.body);
  const entry = await only(app, 'registered');
  assertWho(entry, { userId: (await app.stores.users.findByLogin('reggie'))!.id, ip, ua: 'Signup/3.1', since });
  assert.equal(entry.detail, null);

  // A refused registration (taken name) records nothing.
  const dup = await call(app, '/register', { payload: { username: 'reggie', email: 'other@example.com', password: PASSWORD }, ip: clientIp() });
  assert.equal(dup.statusCode, 400);
  assert.equal((await entries(app, 'registered')).length, 1);
});

test('the entry time is the service clock\'s, to the millisecond', async (t) => {
  const clock = new FakeClock(Date.UTC(2031, 0, 2, 3, 4, 5, 678));
  const app = await buildTestApp(t, {}, { clock });
  const { id } = await register(app, { username: 'tick' });
  clock.advance(61_001);
  await loginAs(app, 'tick', PASSWORD, clientIp());
  assert.equal((await only(app, 'registered', id)).at.toISOString(), '2031-01-02T03:04:05.678Z');
  assert.equal((await only(app, 'login_succeeded', id)).at.toISOString(), '2031-01-02T03:05:06.679Z');
});

test('login_succeeded: with the client id; a long User-Agent is cut to 512 characters, a missing one is null', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'lena' });
  const ip = clientIp();
  const since = Date.now();
  await loginAs(app, 'lena', PASSWORD, ip, 'Browser/9');
  const entry = await only(app, 'login_succeeded', id);
  assertWho(entry, { userId: id, ip, ua: 'Browser/9', since });
  assert.deepEqual(entry.detail, { client_id: 'gatehouse', amr: 'pwd' });

  const long = `Long/1 ${'x'.repeat(600)}`;
  await loginAs(app, 'lena', PASSWORD, clientIp(), long);
  // inject always sends a User-Agent; a plain node:http request over a socket sends none.
  await app.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.app.server.address() as AddressInfo;
  const body = JSON.stringify({ username: 'lena', password: PASSWORD });
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/login', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => res.resume().on('end', () => resolve(res.statusCode)),
    );
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(status, 200);
  const [latest, withLong] = await entries(app, 'login_succeeded', id);
  assert.equal(withLong!.userAgent, long.slice(0, 512));
  assert.equal(latest!.ip, '127.0.0.1');
  assert.equal(latest!.userAgent, null);
});

test('login_failed: wrong password with the user and a reason; unknown user with no user; nothing of what was typed', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'fay' });
  const ip = clientIp();
  const since = Date.now();
  const wrong = await call(app, '/login', { payload: { username: 'fay', password: 'WrongGuess-42' }, ip, ua: 'Guesser/1' });
  assert.equal(wrong.statusCode, 401);
  const entry = await only(app, 'login_failed', id);
  assertWho(entry, { userId: id, ip, ua: 'Guesser/1', since });
  assert.deepEqual(entry.detail, { reason: 'wrong_password' });

  const ip2 = clientIp();
  const since2 = Date.now();
  const unknown = await call(app, '/login', { payload: { username: 'no-such-user', password: 'WrongGuess-43' }, ip: ip2, ua: 'Guesser/2' });
  assert.equal(unknown.statusCode, 401);
  const all = await entries(app, 'login_failed');
  assert.equal(all.length, 2);
  assertWho(all[0]!, { userId: null, ip: ip2, ua: 'Guesser/2', since: since2 });
  assert.deepEqual(all[0]!.detail, { reason: 'unknown_user' });
  assert.doesNotMatch(JSON.stringify(all), /WrongGuess|no-such-user/);
});

test('login_failed: an unverified address under REQUIRE_VERIFIED_EMAIL, after the right password', async (t) => {
  const { app } = await withSmtp(t, { REQUIRE_VERIFIED_EMAIL: 'true' });
  const { id } = await register(app, { username: 'uma' });
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/login', { payload: { username: 'uma', password: PASSWORD }, ip });
  assert.equal(res.statusCode, 403);
  const entry = await only(app, 'login_failed', id);
  assertWho(entry, { userId: id, ip, ua: 'AuditTest/1.0', since });
  assert.deepEqual(entry.detail, { reason: 'email_not_verified' });
  assert.equal((await entries(app, 'login_succeeded')).length, 0);
});

test('lockout: the tenth failure across ten addresses locks the account, recorded once with that request\'s client', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'lou' });
  for (let i = 0; i < 9; i++) {
    const res = await call(app, '/login', { payload: { username: 'lou', password: `Wrong-${i}-pass` }, ip: clientIp() });
    assert.equal(res.statusCode, 401);
  }
  assert.equal((await entries(app, 'lockout')).length, 0, 'nine failures lock nothing');
  const ip = clientIp();
  const since = Date.now();
  const tenth = await call(app, '/login', { payload: { username: 'lou', password: 'Wrong-9-pass' }, ip, ua: 'Botnet/10' });
  assert.equal(tenth.statusCode, 401);
  const entry = await only(app, 'lockout', id);
  assertWho(entry, { userId: id, ip, ua: 'Botnet/10', since });
  assert.equal((await entries(app, 'login_failed', id)).length, 10);

  // Locked: the right password from a new address is refused, and no further entries appear.
  const locked = await call(app, '/login', { payload: { username: 'lou', password: PASSWORD }, ip: clientIp() });
  assert.equal(locked.statusCode, 429);
  assert.equal((await entries(app, 'lockout')).length, 1);
  assert.equal((await entries(app, 'login_succeeded')).length, 0);
});
