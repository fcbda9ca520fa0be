/**
 * The security review's findings (issue 15), each as the attack the reviewer made: every
 * test here failed on the code before its fix. Runs on SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { SignJWT } from 'jose';
import { PASSWORD, buildTestApp, freshIp, login, me, redisEnv, redisMissing, refresh, register, type TestApp } from '../helpers/app.js';

const ORIGINAL_SECRET = 'the-original-services-secret-key';

/** A token of the original FastAPI service (HS256, `sub` = username), iat included. */
function originalToken(sub: string, seconds: number, extra: Record<string, unknown> = {}, withIat = true): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...extra }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(sub).setExpirationTime(now + seconds);
  if (withIat) jwt.setIssuedAt(now);
  return jwt.sign(new TextEncoder().encode(ORIGINAL_SECRET));
}

/** Imports one original user the way `gatehouse import` does (bcrypt hash, original username). */
async function importOriginalUser(app: TestApp, username: string): Promise<void> {
  const passwordHash = (await bcryptHash(Buffer.from(PASSWORD), 4)).replace(/^\$2y\$/, '$2b$');
  const report = await app.stores.imports.importLegacy({
    users: [{ id: 500, legacyUsername: username, username, usernameKey: username.toLowerCase(), email: `${username}@example.com`, emailKey: `${username}@example.com`, passwordHash }],
    revokedTokens: [],
    now: new Date(),
    dryRun: false,
  });
  assert.equal(report.imported, 1);
}

/**
 * Other spellings of the same JWS that lenient base64url decoders (jose's, Buffer's)
 * accept: padding, whitespace inside a part, and different unused low bits in the last
 * character of the signature.
 */
function respellings(token: string): Record<string, string> {
  const [h, p, s] = token.split('.') as [string, string, string];
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(s.at(-1)!);
  // A 32-byte HMAC or a 64-byte Ed25519 signature leaves unused low bits in its last character.
  const lowBits = `${h}.${p}.${s.slice(0, -1)}${alphabet[last ^ 1]}`;
  return {
    padding: `${token}=`,
    whitespace: `${h}.${p}.${s.slice(0, 8)} ${s.slice(8)}`,
    lowBits,
  };
}

test('item 1: a re-spelled original token is refused: no second exchange, no life after logout', async (t) => {
  const app = await buildTestApp(t, { LEGACY_SECRET_KEY: ORIGINAL_SECRET, RATE_LIMIT_REFRESH_PER_MINUTE: '1000' });
  await importOriginalUser(app, 'alice');

  // An original refresh token buys one session; its other spellings buy none.
  const original = await originalToken('alice', 7 * 86_400, { type: 'refresh' });
  assert.equal((await refresh(app, original)).statusCode, 200);
  for (const [how, token] of Object.entries(respellings(original))) {
    const res = await refresh(app, token);
    assert.equal(res.statusCode, 401, `exchanged again when re-spelled (${how}): ${res.statusCode}`);
  }

  // A logged-out original access token stays dead however it is spelled.
  const access = await originalToken('alice', 20 * 60, { type: 'access' });
  assert.equal((await me(app, access)).statusCode, 200);
  const logout = await app.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${access}` } });
  assert.equal(logout.statusCode, 200);
  for (const [how, token] of Object.entries(respellings(access))) {
    if (how === 'whitespace') continue; // no Bearer header can carry a space inside the token
    assert.equal((await me(app, token)).statusCode, 401, `logged-out token accepted when re-spelled (${how})`);
  }
});

test('item 1: Gatehouse\'s own access tokens are refused in any but their canonical spelling', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'bob' });
  const { access_token } = await login(app, 'bob');
  assert.equal((await me(app, access_token)).statusCode, 200);
  const res = await me(app, respellings(access_token).lowBits!);
  assert.equal(res.statusCode, 401, `a second spelling of the signature verified: ${res.statusCode}`);
});

test('item 8: an untyped original refresh token with little time left is no access token', async (t) => {
  const app = await buildTestApp(t, { LEGACY_SECRET_KEY: ORIGINAL_SECRET });
  await importOriginalUser(app, 'carol');
  const now = Math.floor(Date.now() / 1000);
  // Issued 7 days ago, 20 minutes left: a refresh token at the end of its life.
  const oldRefresh = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('carol')
    .setIssuedAt(now - 7 * 86_400 + 20 * 60)
    .setExpirationTime(now + 20 * 60)
    .sign(new TextEncoder().encode(ORIGINAL_SECRET));
  const res = await me(app, oldRefresh);
  assert.equal(res.statusCode, 401, `a refresh token authenticated as an access token: ${res.statusCode}`);
  // Without iat nothing tells the two apart: refused as an access token.
  assert.equal((await me(app, await originalToken('carol', 20 * 60, {}, false))).statusCode, 401, 'untyped and no iat');
  // Controls: an untyped access token with iat works, and so does a typed one.
  assert.equal((await me(app, await originalToken('carol', 20 * 60))).statusCode, 200);
  assert.equal((await me(app, await originalToken('carol', 20 * 60, { type: 'access' }, false))).statusCode, 200);
});

async function raceWrongPasswords(app: TestApp, username: string) {
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      app.app.inject({ method: 'POST', url: '/login', payload: { username, password: `Wrong${i}Pass` }, remoteAddress: `198.51.100.${i + 1}` }),
    ),
  );
  return { verified: results.filter((r) => r.statusCode === 401).length, locked: results.filter((r) => r.statusCode === 429).length };
}

test('item 3: 50 concurrent wrong passwords from 50 addresses: at most LOCKOUT_ACCOUNT_FAILURES are checked', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'dora' });
  const { verified, locked } = await raceWrongPasswords(app, 'dora');
  assert.ok(verified <= 10, `${verified} passwords were checked (limit 10)`);
  assert.equal(verified + locked, 50);
});

test('item 3: the same race against the Redis counters', { skip: redisMissing }, async (t) => {
  const app = await buildTestApp(t, redisEnv());
  await register(app, { username: 'dora' });
  const { verified, locked } = await raceWrongPasswords(app, 'dora');
  assert.ok(verified <= 10, `${verified} passwords were checked (limit 10)`);
  assert.equal(verified + locked, 50);
});

test('item 3: a success gives its reservation back; failures below the limit do not lock', async (t) => {
  const app = await buildTestApp(t, { LOCKOUT_ACCOUNT_FAILURES: '3', LOCKOUT_ACCOUNT_IP_FAILURES: '3' });
  await register(app, { username: 'edna' });
  const ip = freshIp();
  const attempt = (password: string) => app.app.inject({ method: 'POST', url: '/login', payload: { username: 'edna', password }, remoteAddress: ip });
  assert.equal((await attempt('Wrong1Pass')).statusCode, 401);
  assert.equal((await attempt('Wrong2Pass')).statusCode, 401);
  assert.equal((await attempt(PASSWORD)).statusCode, 200);
  assert.equal((await attempt(PASSWORD)).statusCode, 200, 'successes are not counted');
  assert.equal((await attempt('Wrong3Pass')).statusCode, 401);
});

test('item 9: /login and the password grant of /oauth/token share one per-IP budget', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'fred' });
  const ip = freshIp();
  const viaLogin = () => app.app.inject({ method: 'POST', url: '/login', payload: { username: 'fred', password: PASSWORD }, remoteAddress: ip });
  const viaToken = () =>
    app.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'password', username: 'fred', password: PASSWORD }).toString(),
      remoteAddress: ip,
    });
  for (let i = 0; i < 3; i++) assert.equal((await viaLogin()).statusCode, 200);
  for (let i = 0; i < 2; i++) assert.equal((await viaToken()).statusCode, 200);
  const sixth = await viaToken();
  assert.equal(sixth.statusCode, 429, `the 6th password check from one IP: ${sixth.statusCode}`);
  assert.equal((await viaLogin()).statusCode, 429);
});

test('item 9: one account counter whether the account is named by username or by email', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'gwen' });
  for (let i = 0; i < 10; i++) {
    const username = i % 2 === 0 ? 'gwen' : 'gwen@example.com';
    const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username, password: `Wrong${i}Pass` }, remoteAddress: freshIp() });
    assert.equal(res.statusCode, 401, `failure ${i}`);
  }
  for (const username of ['gwen', 'GWEN@example.com']) {
    const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username, password: PASSWORD }, remoteAddress: freshIp() });
    assert.equal(res.statusCode, 429, `${username} after 10 failures under two names: ${res.statusCode}`);
  }
});

test('item 13: /metrics answers loopback clients only, unless METRICS_TOKEN is set', async (t) => {
  const open = await buildTestApp(t);
  assert.equal((await open.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200, 'loopback');
  const remote = await open.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.7' });
  assert.equal(remote.statusCode, 403, `a remote client read /metrics: ${remote.statusCode}`);
  assert.doesNotMatch(remote.body, /gatehouse_/);

  const token = 'metrics-token-0123456789abcdef';
  const guarded = await buildTestApp(t, { METRICS_TOKEN: token });
  for (const [label, headers, remoteAddress] of [
    ['no token, remote', {}, '203.0.113.7'],
    ['no token, loopback', {}, '127.0.0.1'],
    ['wrong token', { authorization: 'Bearer not-the-token' }, '203.0.113.7'],
  ] as const) {
    const res = await guarded.app.inject({ method: 'GET', url: '/metrics', headers, remoteAddress });
    assert.equal(res.statusCode, 401, label);
    assert.match(String(res.headers['www-authenticate']), /^Bearer/);
  }
  const ok = await guarded.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` }, remoteAddress: '203.0.113.7' });
  assert.equal(ok.statusCode, 200);
  assert.match(ok.body, /gatehouse_http_requests_total/);
});

test('item 14: TRUST_PROXY=true warns at start that the leftmost X-Forwarded-For is the client\'s word', async (t) => {
  const trusting = await buildTestApp(t, { TRUST_PROXY: 'true' });
  assert.ok(trusting.logs.some((l) => /TRUST_PROXY=true/.test(l) && /"level":40/.test(l)), 'a warning names TRUST_PROXY=true');
  const proxies = await buildTestApp(t, { TRUST_PROXY: '10.0.0.0/8' });
  assert.ok(!proxies.logs.some((l) => /TRUST_PROXY/.test(l)), 'a list of proxies is not warned about');
});

test('item 16: introspection answers active only for the calling client\'s own audience', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_LOGIN_PER_MINUTE: '1000' });
  await register(app, { username: 'hank' });
  const orders = await app.clients.create({ id: 'orders', grantTypes: ['password', 'refresh_token'], audience: 'https://orders.example.com', confidential: true, now: new Date() });
  const billing = await app.clients.create({ id: 'billing', grantTypes: ['password'], audience: 'https://billing.example.com', confidential: true, now: new Date() });
  const basic = (id: string, secret: string | undefined) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const introspect = async (token: string, id: string, secret: string | undefined) => {
    const res = await app.app.inject({
      method: 'POST',
      url: '/oauth/introspect',
      headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token }).toString(),
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { active: boolean; client_id?: string };
  };
  const grant = await app.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { authorization: basic('orders', orders.secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'password', username: 'hank', password: PASSWORD }).toString(),
    remoteAddress: freshIp(),
  });
  assert.equal(grant.statusCode, 200, grant.body);
  const ordersTokens = grant.json() as { access_token: string; refresh_token: string };
  const defaultTokens = await login(app, 'hank');

  assert.equal((await introspect(ordersTokens.access_token, 'orders', orders.secret)).active, true, 'its own audience');
  assert.equal((await introspect(ordersTokens.refresh_token, 'orders', orders.secret)).active, true, 'its own refresh token');
  for (const [what, token] of [
    ['another client\'s access token', ordersTokens.access_token],
    ['another client\'s refresh token', ordersTokens.refresh_token],
    ['a default-client access token', defaultTokens.access_token],
    ['a default-client refresh token', defaultTokens.refresh_token],
  ] as const) {
    assert.deepEqual(await introspect(token, 'billing', billing.secret), { active: false }, `billing learned about ${what}`);
  }
});
