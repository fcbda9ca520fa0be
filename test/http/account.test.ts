import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, buildTestApp, countRows, freshIp, login, me, refresh, register } from '../helpers/app.js';

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

test('two logins give two sessions; GET /sessions lists them with the current one marked', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'alice' });
  const a = await login(app, 'alice');
  const b = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: PASSWORD }, remoteAddress: '198.51.100.9', headers: { 'user-agent': 'Tab/2' } });
  const res = await app.app.inject({ method: 'GET', url: '/sessions', headers: auth(a.access_token) });
  assert.equal(res.statusCode, 200);
  const list = res.json();
  assert.equal(list.length, 2);
  // The contract's fields, plus which client the session is for and (browser sign-ins) the apps it signed in to.
  assert.deepEqual(Object.keys(list[0]).sort(), ['amr', 'client_id', 'created_at', 'current', 'id', 'ip', 'last_used_at', 'signed_in_clients', 'user_agent']);
  assert.equal(list.filter((s: { current: boolean }) => s.current).length, 1);
  const other = list.find((s: { current: boolean }) => !s.current);
  assert.equal(other.ip, '198.51.100.9');
  assert.equal(other.user_agent, 'Tab/2');
  assert.doesNotMatch(res.body, /ghr_|hash/);
  assert.equal(b.statusCode, 200);
});

test('DELETE /sessions/{id} kills that session\'s tokens only; another user\'s id is 404', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'bob' });
  await register(app, { username: 'carol' });
  const one = await login(app, 'bob');
  const two = await login(app, 'bob');
  const carol = await login(app, 'carol');
  const sid = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string;

  const foreign = await app.app.inject({ method: 'DELETE', url: `/sessions/${sid(carol.access_token)}`, headers: auth(one.access_token) });
  assert.equal(foreign.statusCode, 404);
  const unknown = await app.app.inject({ method: 'DELETE', url: '/sessions/00000000-0000-0000-0000-000000000000', headers: auth(one.access_token) });
  assert.equal(unknown.statusCode, 404);
  assert.equal(foreign.body, unknown.body, 'a foreign id looks exactly like an unknown one');
  assert.equal((await me(app, carol.access_token)).statusCode, 200);

  const del = await app.app.inject({ method: 'DELETE', url: `/sessions/${sid(two.access_token)}`, headers: auth(one.access_token) });
  assert.equal(del.statusCode, 204);
  assert.equal((await me(app, two.access_token)).statusCode, 401);
  assert.equal((await refresh(app, two.refresh_token)).statusCode, 401);
  assert.equal((await me(app, one.access_token)).statusCode, 200);
  assert.equal((await refresh(app, one.refresh_token)).statusCode, 200);
});

test('POST /logout/all kills every session of the caller and no one else\'s', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'dave' });
  await register(app, { username: 'erin' });
  const sessions = [await login(app, 'dave'), await login(app, 'dave'), await login(app, 'dave')];
  const erin = await login(app, 'erin');
  const res = await app.app.inject({ method: 'POST', url: '/logout/all', headers: auth(sessions[0]!.access_token) });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().revoked, 3);
  for (const s of sessions) {
    assert.equal((await me(app, s.access_token)).statusCode, 401);
    assert.equal((await refresh(app, s.refresh_token)).statusCode, 401);
  }
  assert.equal((await me(app, erin.access_token)).statusCode, 200);
});

test('password change needs the current password, keeps the caller\'s session, ends the others', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'frank' });
  const mine = await login(app, 'frank');
  const other = await login(app, 'frank');
  const change = (current: string, next: string) =>
    app.app.inject({ method: 'POST', url: '/password/change', headers: auth(mine.access_token), payload: { current_password: current, new_password: next }, remoteAddress: freshIp() });

  const wrong = await change('NotMyPass1', 'BrandNew77');
  assert.equal(wrong.statusCode, 403);
  const weak = await change(PASSWORD, 'short');
  assert.equal(weak.statusCode, 400);
  assert.ok(weak.json().errors.every((e: { field: string }) => e.field === 'new_password'));
  assert.equal((await me(app, other.access_token)).statusCode, 200, 'failed attempts change nothing');

  const ok = await change(PASSWORD, 'BrandNew77');
  assert.equal(ok.statusCode, 200);
  assert.equal((await me(app, mine.access_token)).statusCode, 200);
  assert.equal((await refresh(app, mine.refresh_token)).statusCode, 200);
  assert.equal((await me(app, other.access_token)).statusCode, 401);
  assert.equal((await refresh(app, other.refresh_token)).statusCode, 401);
  await assert.rejects(login(app, 'frank'), /401/);
  await login(app, 'frank', 'BrandNew77');
});

test('wrong current passwords are throttled like failed logins', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'gina' });
  const s = await login(app, 'gina');
  const statuses: number[] = [];
  for (let i = 0; i < 11; i++) {
    const res = await app.app.inject({ method: 'POST', url: '/password/change', headers: auth(s.access_token), payload: { current_password: `Guess${i}xx`, new_password: 'BrandNew77' }, remoteAddress: freshIp() });
    statuses.push(res.statusCode);
  }
  assert.deepEqual(statuses, [...Array(10).fill(403), 429]);
  // Audited like failed logins: ten failures, one lockout.
  const entries = await app.stores.audit.list({ limit: 100 });
  assert.equal(entries.filter((e) => e.type === 'login_failed' && e.detail?.reason === 'wrong_password_reentered').length, 10);
  assert.equal(entries.filter((e) => e.type === 'lockout').length, 1);
});

test('DELETE /me with the password removes the user and every session; the names are free again', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'hank', email: 'hank@example.com' });
  const a = await login(app, 'hank');
  const b = await login(app, 'hank');
  const wrong = await app.app.inject({ method: 'DELETE', url: '/me', headers: auth(a.access_token), payload: { password: 'WrongPass1' }, remoteAddress: freshIp() });
  assert.equal(wrong.statusCode, 403);
  assert.equal(await countRows(app.dir, 'users'), 1);
  const missing = await app.app.inject({ method: 'DELETE', url: '/me', headers: auth(a.access_token), payload: {} });
  assert.equal(missing.statusCode, 400);

  const del = await app.app.inject({ method: 'DELETE', url: '/me', headers: auth(a.access_token), payload: { password: PASSWORD }, remoteAddress: freshIp() });
  assert.equal(del.statusCode, 204);
  assert.equal(await countRows(app.dir, 'users'), 0);
  assert.equal(await countRows(app.dir, 'sessions'), 0);
  assert.equal((await me(app, a.access_token)).statusCode, 401);
  assert.equal((await me(app, b.access_token)).statusCode, 401);
  assert.equal((await refresh(app, b.refresh_token)).statusCode, 401);
  await register(app, { username: 'Hank', email: 'HANK@example.com' });
});

test('every account endpoint needs a valid access token', async (t) => {
  const app = await buildTestApp(t);
  for (const [method, url] of [['GET', '/sessions'], ['DELETE', '/sessions/x'], ['POST', '/logout/all'], ['POST', '/password/change'], ['DELETE', '/me']] as const) {
    const res = await app.app.inject({ method, url, payload: method === 'GET' ? undefined : {} });
    assert.equal(res.statusCode, 401, `${method} ${url}`);
  }
});
