/**
 * The audit trail, one entry per event (2 of 3): how sessions end or are attacked: logout,
 * refresh-token reuse, logout of all, one session revoked, RFC 7009 token revocation.
 * Helpers: test/helpers/audit.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, login, register } from '../../helpers/app.js';
import { clientIp, auth, sidOf, call, entries, only, assertWho } from '../../helpers/audit.js';

test('logout: the session that ended', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'leo' });
  const tokens = await login(app, 'leo');
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/logout', { headers: auth(tokens.access_token), ip, ua: 'Leaving/1' });
  assert.equal(res.statusCode, 200, res.body);
  const entry = await only(app, 'logout', id);
  assertWho(entry, { userId: id, ip, ua: 'Leaving/1', since });
  assert.deepEqual(entry.detail, { session_id: sidOf(tokens.access_token) });
});

test('refresh_reuse_detected: the replayed old token after the grace window; routine rotations stay out', async (t) => {
  const app = await buildTestApp(t, { REFRESH_REUSE_GRACE_SECONDS: '0' });
  const { id } = await register(app, { username: 'rita' });
  const first = await login(app, 'rita');
  const rotated = await call(app, '/refresh', { payload: { refresh_token: first.refresh_token }, ip: clientIp() });
  assert.equal(rotated.statusCode, 200, rotated.body);
  await new Promise((r) => setTimeout(r, 20));

  const ip = clientIp();
  const since = Date.now();
  const reuse = await call(app, '/refresh', { payload: { refresh_token: first.refresh_token }, ip, ua: 'Thief/0.1' });
  assert.equal(reuse.statusCode, 401);
  const entry = await only(app, 'refresh_reuse_detected', id);
  assertWho(entry, { userId: id, ip, ua: 'Thief/0.1', since });
  assert.deepEqual(entry.detail, { session_id: sidOf(first.access_token) });
  // The whole family is dead now; the refused refresh with the child is counted, not audited.
  assert.equal((await call(app, '/refresh', { payload: { refresh_token: rotated.json().refresh_token }, ip: clientIp() })).statusCode, 401);
  for (const type of ['refresh_rotated', 'refresh_replayed', 'refresh_refused']) {
    assert.equal((await entries(app, type)).length, 0, `${type} is not audited`);
  }
});

test('logout_all: how many sessions ended', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'alma' });
  const a = await login(app, 'alma');
  await login(app, 'alma');
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/logout/all', { headers: auth(a.access_token), ip, ua: 'Panic/1' });
  assert.equal(res.statusCode, 200, res.body);
  const entry = await only(app, 'logout_all', id);
  assertWho(entry, { userId: id, ip, ua: 'Panic/1', since });
  assert.deepEqual(entry.detail, { sessions: 2 });
});

test('session_revoked: the session id; a foreign or unknown id records nothing', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'sid' });
  await register(app, { username: 'other' });
  const mine = await login(app, 'sid');
  const second = await login(app, 'sid');
  const foreign = await login(app, 'other');
  const notMine = await call(app, `/sessions/${sidOf(foreign.access_token)}`, { method: 'DELETE', headers: auth(mine.access_token), ip: clientIp() });
  assert.equal(notMine.statusCode, 404);
  assert.equal((await entries(app, 'session_revoked')).length, 0);

  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, `/sessions/${sidOf(second.access_token)}`, { method: 'DELETE', headers: auth(mine.access_token), ip, ua: 'Devices/1' });
  assert.equal(res.statusCode, 204, res.body);
  const entry = await only(app, 'session_revoked', id);
  assertWho(entry, { userId: id, ip, ua: 'Devices/1', since });
  assert.deepEqual(entry.detail, { session_id: sidOf(second.access_token) });
});

test('token_revoked (RFC 7009, default client): a refresh token ends its session, an access token only itself', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'tom' });
  const a = await login(app, 'tom');
  const b = await login(app, 'tom');

  const ip = clientIp();
  const since = Date.now();
  const byRefresh = await call(app, '/oauth/revoke', { payload: { token: a.refresh_token, client_id: 'gatehouse' }, ip, ua: 'OAuthLib/1' });
  assert.equal(byRefresh.statusCode, 200, byRefresh.body);
  const first = await only(app, 'token_revoked', id);
  assertWho(first, { userId: id, ip, ua: 'OAuthLib/1', since });
  assert.deepEqual(first.detail, { kind: 'refresh_token', client_id: 'gatehouse', session_id: sidOf(a.access_token) });

  const ip2 = clientIp();
  const since2 = Date.now();
  const byAccess = await call(app, '/oauth/revoke', { payload: { token: b.access_token, token_type_hint: 'access_token' }, ip: ip2, ua: 'OAuthLib/2' });
  assert.equal(byAccess.statusCode, 200, byAccess.body);
  const [latest] = await entries(app, 'token_revoked', id);
  assertWho(latest!, { userId: id, ip: ip2, ua: 'OAuthLib/2', since: since2 });
  assert.deepEqual(latest!.detail, { kind: 'access_token', client_id: 'gatehouse' });

  // Unknown tokens answer 200 and record nothing.
  assert.equal((await call(app, '/oauth/revoke', { payload: { token: 'ghr_not-ours' }, ip: clientIp() })).statusCode, 200);
  assert.equal((await entries(app, 'token_revoked')).length, 2);
});
