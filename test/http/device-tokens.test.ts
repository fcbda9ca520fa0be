/**
 * Security review item 6: lockout must not be a weapon. A device that has logged in to an
 * account before (it holds a device token) is counted on its own: failures from elsewhere
 * lock the account for unknown devices only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, buildTestApp, freshIp, register, type TestApp } from '../helpers/app.js';

function loginWith(app: TestApp, body: Record<string, string>, headers: Record<string, string> = {}, remoteAddress = freshIp()) {
  return app.app.inject({ method: 'POST', url: '/login', payload: body, headers, remoteAddress });
}

async function lockOutUnknownDevices(app: TestApp, username: string) {
  for (let i = 0; i < 10; i++) {
    const res = await loginWith(app, { username, password: `Wrong${i}Pass` });
    assert.equal(res.statusCode, 401, `attacker failure ${i}`);
  }
  const stranger = await loginWith(app, { username, password: PASSWORD });
  assert.equal(stranger.statusCode, 429, 'unknown devices are locked out');
}

test('item 6: a login returns a device token, in the body and as an HttpOnly cookie', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'ivy' });
  const res = await loginWith(app, { username: 'ivy', password: PASSWORD });
  assert.equal(res.statusCode, 200);
  const body = res.json() as { device_token?: string };
  assert.equal(typeof body.device_token, 'string', `no device_token in ${res.body}`);
  const cookie = String(res.headers['set-cookie'] ?? '');
  assert.match(cookie, new RegExp(`^gatehouse_device=${body.device_token}`));
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
});

test('item 6: an attacker locking the account cannot lock out a device that logged in before', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'jack' });
  const first = await loginWith(app, { username: 'jack', password: PASSWORD });
  const deviceToken = (first.json() as { device_token?: string }).device_token ?? 'none';

  await lockOutUnknownDevices(app, 'jack');

  const byBody = await loginWith(app, { username: 'jack', password: PASSWORD, device_token: deviceToken });
  assert.equal(byBody.statusCode, 200, `the owner's device (body field) was locked out: ${byBody.statusCode}`);
  const byCookie = await loginWith(app, { username: 'jack', password: PASSWORD }, { cookie: `other=1; gatehouse_device=${deviceToken}` });
  assert.equal(byCookie.statusCode, 200, `the owner's device (cookie) was locked out: ${byCookie.statusCode}`);
  // The account stays locked for everyone else.
  assert.equal((await loginWith(app, { username: 'jack', password: PASSWORD })).statusCode, 429);
});

test('item 6: a device token counts only for its own account, and only when genuine', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'kate' });
  await register(app, { username: 'liam' });
  const liamDevice = ((await loginWith(app, { username: 'liam', password: PASSWORD })).json() as { device_token?: string }).device_token ?? 'none';
  await lockOutUnknownDevices(app, 'kate');
  const forged = liamDevice.replace(/^ghd_\d+/, 'ghd_1');
  for (const [what, token] of [
    ['another account\'s device token', liamDevice],
    ['a device token re-labelled for this account', forged],
    ['garbage', 'ghd_not-a-token'],
  ] as const) {
    const res = await loginWith(app, { username: 'kate', password: PASSWORD, device_token: token });
    assert.equal(res.statusCode, 429, `${what} opened a locked account: ${res.statusCode}`);
  }
});

test('item 6: wrong passwords from a known device lock that device only', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'mona' });
  const device = ((await loginWith(app, { username: 'mona', password: PASSWORD })).json() as { device_token?: string }).device_token ?? 'none';
  for (let i = 0; i < 5; i++) {
    assert.equal((await loginWith(app, { username: 'mona', password: `Wrong${i}Pass`, device_token: device })).statusCode, 401);
  }
  assert.equal((await loginWith(app, { username: 'mona', password: PASSWORD, device_token: device })).statusCode, 429, 'that device is locked');
  assert.equal((await loginWith(app, { username: 'mona', password: PASSWORD })).statusCode, 200, 'the account is not');
});
