import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, PASSWORD, buildTestApp, freshIp, login, me, refresh, register } from '../helpers/app.js';

test('refresh rotates: a new refresh token, a new access token on the same session, no-store', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'alice' });
  const first = await login(app, 'alice');
  const res = await refresh(app, first.refresh_token);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['cache-control'], 'no-store');
  const second = res.json();
  assert.notEqual(second.refresh_token, first.refresh_token);
  assert.notEqual(second.access_token, first.access_token);
  assert.equal((await me(app, second.access_token)).statusCode, 200);
  const sid = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid;
  assert.equal(sid(second.access_token), sid(first.access_token));
  // The new token rotates again.
  assert.equal((await refresh(app, second.refresh_token)).statusCode, 200);
});

test('the refresh token is accepted as a form field and, deprecated, as a query parameter', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'bob' });
  const a = await login(app, 'bob');
  const form = await app.app.inject({
    method: 'POST',
    url: '/refresh',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `refresh_token=${a.refresh_token}`,
  });
  assert.equal(form.statusCode, 200, form.body);
  assert.equal(form.headers.deprecation, undefined);
  const query = await app.app.inject({ method: 'POST', url: `/refresh?refresh_token=${form.json().refresh_token}` });
  assert.equal(query.statusCode, 200, query.body);
  // RFC 9745: an sf-date, '@' and the Unix time the query form was deprecated.
  assert.match(String(query.headers.deprecation), /^@\d{10}$/);
  assert.ok(Number(String(query.headers.deprecation).slice(1)) * 1000 <= Date.now(), 'deprecated in the past');
  // The token must not reach the logs through the URL.
  assert.ok(!app.logs.join('').includes(form.json().refresh_token));
  const missing = await app.app.inject({ method: 'POST', url: '/refresh' });
  assert.equal(missing.statusCode, 400);
  assert.equal(missing.json().errors[0].field, 'refresh_token');
});

test('within the grace window a replayed token gets the same child; after it, reuse revokes the session', async (t) => {
  const clock = new FakeClock();
  const app = await buildTestApp(t, {}, { clock });
  await register(app, { username: 'carol' });
  const parent = await login(app, 'carol');
  const child = (await refresh(app, parent.refresh_token)).json();

  clock.advance(5_000);
  const replay = await refresh(app, parent.refresh_token);
  assert.equal(replay.statusCode, 200);
  assert.equal(replay.json().refresh_token, child.refresh_token, 'the same child, never a second branch');
  assert.equal((await me(app, replay.json().access_token)).statusCode, 200);

  clock.advance(6_000); // 11 s after the rotation: outside the 10 s window
  const reuse = await refresh(app, parent.refresh_token);
  assert.equal(reuse.statusCode, 401);
  // The whole family is dead: the child refresh token and every access token of the session.
  assert.equal((await refresh(app, child.refresh_token)).statusCode, 401);
  assert.equal((await me(app, child.access_token)).statusCode, 401);
  assert.equal((await me(app, parent.access_token)).statusCode, 401);
  const metrics = await app.app.inject({ method: 'GET', url: '/metrics' });
  assert.match(metrics.body, /gatehouse_refresh_reuse_detected_total 1/);
});

test('a token two rotations old is reuse even when both rotations happened in the same second', async (t) => {
  const clock = new FakeClock();
  const app = await buildTestApp(t, {}, { clock });
  await register(app, { username: 'dave' });
  const t0 = await login(app, 'dave');
  const t1 = (await refresh(app, t0.refresh_token)).json();
  const t2 = (await refresh(app, t1.refresh_token)).json();
  // t0 is no longer the previous token: no grace, whatever the clock says.
  assert.equal((await refresh(app, t0.refresh_token)).statusCode, 401);
  assert.equal((await refresh(app, t2.refresh_token)).statusCode, 401, 'reuse revoked the family');
});

test('an expired session cannot refresh; rotation slides the expiry', async (t) => {
  const clock = new FakeClock();
  const app = await buildTestApp(t, { REFRESH_TOKEN_EXPIRE_DAYS: '1' }, { clock });
  await register(app, { username: 'erin' });
  const a = await login(app, 'erin');
  clock.advance(20 * 3600_000);
  const b = (await refresh(app, a.refresh_token)).json();
  clock.advance(20 * 3600_000); // 40 h after login, 20 h after the rotation
  const c = await refresh(app, b.refresh_token);
  assert.equal(c.statusCode, 200, 'the rotation extended the session');
  clock.advance(25 * 3600_000);
  assert.equal((await refresh(app, c.json().refresh_token)).statusCode, 401);
});

test('concurrent refreshes of one token (two tabs) both succeed with the same child', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'frank' });
  const a = await login(app, 'frank');
  const results = await Promise.all(Array.from({ length: 10 }, () => refresh(app, a.refresh_token)));
  assert.deepEqual(new Set(results.map((r) => r.statusCode)), new Set([200]));
  const children = new Set(results.map((r) => r.json().refresh_token));
  assert.equal(children.size, 1, 'one live branch');
  const [child] = [...children];
  assert.equal((await refresh(app, child!)).statusCode, 200);
});

test('logout: the access token 401s at once and the refresh token is dead', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'gina' });
  const a = await login(app, 'gina');
  const other = await login(app, 'gina');
  const out = await app.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${a.access_token}` } });
  assert.equal(out.statusCode, 200, out.body);
  assert.deepEqual(out.json(), { message: 'Successfully logged out' });
  const after = await me(app, a.access_token);
  assert.equal(after.statusCode, 401);
  assert.match(String(after.headers['www-authenticate']), /error="invalid_token"/);
  assert.equal((await refresh(app, a.refresh_token)).statusCode, 401);
  // Another session of the same user is untouched.
  assert.equal((await me(app, other.access_token)).statusCode, 200);
  // Logging out twice with the same token: the token is already revoked.
  const again = await app.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${a.access_token}` } });
  assert.equal(again.statusCode, 401);
});

// HTTP wrappers send `Content-Type: application/json` on a bodyless POST. Fastify refused
// the empty body (400 "could not be parsed"); a body that may be omitted may be omitted so too.
test('a bodyless POST sent as application/json: /logout takes it, a route that needs a body answers 400 from its schema', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'hank' });
  const a = await login(app, 'hank');
  const json = { 'content-type': 'application/json' };
  const out = await app.app.inject({ method: 'POST', url: '/logout', headers: { ...json, authorization: `Bearer ${a.access_token}` }, payload: '' });
  assert.equal(out.statusCode, 200, out.body);
  assert.equal((await me(app, a.access_token)).statusCode, 401, 'logged out');

  const b = await login(app, 'hank');
  const rotated = await app.app.inject({ method: 'POST', url: `/refresh?refresh_token=${b.refresh_token}`, headers: json, payload: '' });
  assert.equal(rotated.statusCode, 200, rotated.body);

  const bodyless = await app.app.inject({ method: 'POST', url: '/login', headers: json, payload: '', remoteAddress: freshIp() });
  assert.equal(bodyless.statusCode, 400, bodyless.body);
  assert.equal(bodyless.headers['content-type'], 'application/problem+json; charset=utf-8');
  // Whitespace is not nothing: it is JSON that does not parse.
  const blank = await app.app.inject({ method: 'POST', url: '/logout', headers: { ...json, authorization: `Bearer ${b.access_token}` }, payload: ' ' });
  assert.equal(blank.statusCode, 400, blank.body);
});

test('logout with a refresh_token of another of my sessions revokes that one too; someone else\'s is ignored', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'hank' });
  await register(app, { username: 'ivy' });
  const mine1 = await login(app, 'hank');
  const mine2 = await login(app, 'hank');
  const theirs = await login(app, 'ivy');
  for (const refreshToken of [mine2.refresh_token, theirs.refresh_token]) {
    const res = await app.app.inject({
      method: 'POST',
      url: '/logout',
      headers: { authorization: `Bearer ${refreshToken === mine2.refresh_token ? mine1.access_token : (await login(app, 'hank')).access_token}` },
      payload: { refresh_token: refreshToken },
    });
    assert.equal(res.statusCode, 200);
  }
  assert.equal((await me(app, mine2.access_token)).statusCode, 401);
  assert.equal((await me(app, theirs.access_token)).statusCode, 200);
  assert.equal((await refresh(app, theirs.refresh_token)).statusCode, 200);
});

test('a refresh racing a logout ends revoked', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'jack' });
  for (let round = 0; round < 5; round++) {
    const a = await login(app, 'jack');
    const [refreshed] = await Promise.all([
      refresh(app, a.refresh_token),
      app.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${a.access_token}` } }),
    ]);
    if (refreshed.statusCode === 200) {
      const child = refreshed.json();
      assert.equal((await me(app, child.access_token)).statusCode, 401, 'the child belongs to the revoked session');
      assert.equal((await refresh(app, child.refresh_token)).statusCode, 401);
    } else {
      assert.equal(refreshed.statusCode, 401);
    }
  }
});

test('a restart keeps users, sessions and keys: the old access and refresh tokens still work', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'kate' });
  const a = await login(app, 'kate');
  const dir = app.dir;
  await app.app.close();
  const again = await buildTestApp(t, {}, { dir });
  assert.equal((await me(again, a.access_token)).statusCode, 200);
  assert.equal((await refresh(again, a.refresh_token)).statusCode, 200);
  await login(again, 'kate');
});

test('logs carry one line per request and never a password, token or Authorization header', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'liam' });
  const a = await login(app, 'liam');
  await me(app, a.access_token);
  const b = (await refresh(app, a.refresh_token)).json();
  await app.app.inject({ method: 'POST', url: `/refresh?refresh_token=${b.refresh_token}` });
  await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'liam', password: 'WrongSecret77' }, remoteAddress: freshIp() });
  const all = app.logs.join('');
  for (const secret of [PASSWORD, 'WrongSecret77', a.access_token, a.refresh_token, b.refresh_token, b.access_token, 'argon2id']) {
    assert.ok(!all.includes(secret), `log leaks ${secret.slice(0, 12)}…`);
  }
  const requestLines = app.logs.filter((l) => JSON.parse(l).msg === 'request');
  assert.equal(requestLines.length, 6);
});
