import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, buildTestApp, freshIp, login, me, register } from '../helpers/app.js';

test('login by username and by email, with JSON and with a form; token response shape and no-store', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'Alice', email: 'alice@example.com' });
  const bodies = [
    { payload: { username: 'alice', password: PASSWORD } },
    { payload: { username: 'ALICE@example.com', password: PASSWORD } },
    {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: 'Alice', password: PASSWORD }).toString(),
    },
    {
      // What Swagger UI's Authorize dialog and FastAPI's OAuth2PasswordRequestForm clients send.
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'password', username: 'alice@example.com', password: PASSWORD, scope: '', client_id: '' }).toString(),
    },
  ];
  for (const body of bodies) {
    const res = await app.app.inject({ method: 'POST', url: '/login', remoteAddress: freshIp(), ...body });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const tokens = res.json();
    assert.deepEqual(Object.keys(tokens).sort(), ['access_token', 'device_token', 'expires_in', 'refresh_token', 'token_type']);
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.expires_in, 1800);
    assert.match(tokens.refresh_token, /^ghr_[A-Za-z0-9_-]{43}$/);
    const who = await me(app, tokens.access_token);
    assert.equal(who.statusCode, 200);
    assert.equal(who.json().username, 'Alice');
  }
});

test('wrong password and unknown user get the same 401 body', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'bob' });
  const wrong = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: 'WrongPass1' }, remoteAddress: freshIp() });
  const unknown = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'nobody', password: 'WrongPass1' }, remoteAddress: freshIp() });
  assert.equal(wrong.statusCode, 401);
  assert.equal(unknown.statusCode, 401);
  assert.equal(wrong.body, unknown.body);
  assert.equal(wrong.headers['www-authenticate'], unknown.headers['www-authenticate']);
  assert.equal(wrong.json().detail, 'Incorrect username or password');
});

test('a login with changed argon2 parameters rehashes the stored password', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'carol' });
  const dir = app.dir;
  await app.app.close();
  const stronger = await buildTestApp(t, { ARGON2_MEMORY_KIB: '2048', ARGON2_TIME_COST: '2' }, { dir });
  const before = await stronger.stores.users.findByLogin('carol');
  assert.match(before!.passwordHash, /m=1024,t=1/);
  await login(stronger, 'carol');
  const after = await stronger.stores.users.findByLogin('carol');
  assert.match(after!.passwordHash, /^\$argon2id\$v=19\$m=2048,t=2,p=1\$/);
  await login(stronger, 'carol');
});

test('the sixth login from one IP within a minute → 429 with Retry-After and RateLimit headers', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'dave' });
  const ip = '192.0.2.10';
  for (let i = 1; i <= 5; i++) {
    const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'dave', password: PASSWORD }, remoteAddress: ip });
    assert.equal(res.statusCode, 200, `attempt ${i}`);
    assert.equal(res.headers['ratelimit-limit'], '5');
    assert.equal(res.headers['ratelimit-remaining'], String(5 - i));
  }
  const sixth = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'dave', password: PASSWORD }, remoteAddress: ip });
  assert.equal(sixth.statusCode, 429);
  assert.ok(Number(sixth.headers['retry-after']) > 0 && Number(sixth.headers['retry-after']) <= 60);
  assert.equal(sixth.json().code, 'rate_limited');
  assert.equal(sixth.headers['content-type'], 'application/problem+json; charset=utf-8');
  // Another client is not affected.
  const other = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'dave', password: PASSWORD }, remoteAddress: '192.0.2.11' });
  assert.equal(other.statusCode, 200);
});

test('IPv6 clients are counted per /64', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_LOGIN_PER_MINUTE: '2' });
  const attempt = (ip: string) =>
    app.app.inject({ method: 'POST', url: '/login', payload: { username: 'x', password: 'y' }, remoteAddress: ip });
  assert.equal((await attempt('2001:db8:1:2::1')).statusCode, 401);
  assert.equal((await attempt('2001:db8:1:2:ffff::9')).statusCode, 401);
  assert.equal((await attempt('2001:0db8:0001:0002:abcd::1')).statusCode, 429);
  assert.equal((await attempt('2001:db8:1:3::1')).statusCode, 401);
});

test('X-Forwarded-For is ignored unless TRUST_PROXY says so', async (t) => {
  const untrusting = await buildTestApp(t, { RATE_LIMIT_LOGIN_PER_MINUTE: '1' });
  const send = (app: typeof untrusting, xff: string) =>
    app.app.inject({ method: 'POST', url: '/login', payload: { username: 'x', password: 'y' }, remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': xff } });
  assert.equal((await send(untrusting, '198.51.100.1')).statusCode, 401);
  assert.equal((await send(untrusting, '198.51.100.2')).statusCode, 429, 'a spoofed header must not buy a fresh limit');

  const trusting = await buildTestApp(t, { RATE_LIMIT_LOGIN_PER_MINUTE: '1', TRUST_PROXY: '127.0.0.1' });
  assert.equal((await send(trusting, '198.51.100.1')).statusCode, 401);
  assert.equal((await send(trusting, '198.51.100.2')).statusCode, 401);
  assert.equal((await send(trusting, '198.51.100.1')).statusCode, 429);
});

test('per-account lockout across IPs: the account is locked for everyone, other accounts are not', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'erin' });
  await register(app, { username: 'frank' });
  // 10 failures spread over 5 addresses: each address stays under its own limits.
  for (let i = 0; i < 10; i++) {
    const res = await app.app.inject({
      method: 'POST',
      url: '/login',
      payload: { username: 'erin', password: `Wrong${i}Pass` },
      remoteAddress: `203.0.113.${i % 5}`,
    });
    assert.equal(res.statusCode, 401, `failure ${i}`);
  }
  const locked = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'erin', password: PASSWORD }, remoteAddress: freshIp() });
  assert.equal(locked.statusCode, 429);
  assert.equal(locked.json().code, 'account_locked');
  const retryAfter = Number(locked.headers['retry-after']);
  assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, String(retryAfter));
  // The lock is per account: frank logs in from a fresh address.
  await login(app, 'frank');
  // The key is the identifier, so the email form of erin is locked too only if typed the same;
  // unknown usernames are throttled exactly like real ones (nothing to enumerate).
  for (let i = 0; i < 10; i++) {
    await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'ghost', password: 'Nope12345' }, remoteAddress: `198.18.0.${i}` });
  }
  const ghost = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'ghost', password: 'Nope12345' }, remoteAddress: freshIp() });
  assert.equal(ghost.statusCode, 429);
});

test('per (account, IP) lockout is tighter: one address is stopped while the owner logs in elsewhere', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_LOGIN_PER_MINUTE: '100' });
  await register(app, { username: 'gina' });
  const attacker = '198.51.100.66';
  for (let i = 0; i < 5; i++) {
    const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'gina', password: 'Guess1234' }, remoteAddress: attacker });
    assert.equal(res.statusCode, 401);
  }
  const fromAttacker = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'gina', password: PASSWORD }, remoteAddress: attacker });
  assert.equal(fromAttacker.statusCode, 429);
  assert.equal(fromAttacker.json().code, 'account_locked');
  await login(app, 'gina');
});

test('missing fields and wrong types on /login are 400 problems listing the fields', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.app.inject({ method: 'POST', url: '/login', payload: {}, remoteAddress: freshIp() });
  assert.equal(res.statusCode, 400);
  const fields = res.json().errors.map((e: { field: string }) => e.field).sort();
  assert.deepEqual(fields, ['password', 'username']);
  const typed = await app.app.inject({ method: 'POST', url: '/login', payload: { username: ['a'], password: 1 }, remoteAddress: freshIp() });
  assert.equal(typed.statusCode, 400);
});
