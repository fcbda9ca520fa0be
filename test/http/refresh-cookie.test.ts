/** Cookie mode (REFRESH_TOKEN_COOKIE=true): the refresh token in an HttpOnly cookie, guarded against CSRF. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, buildTestApp, freshIp, login, refresh, register, type TestApp } from '../helpers/app.js';

const CSRF = { 'x-gatehouse-csrf': '1' };

function cookieOf(setCookie: string | string[] | undefined): { value: string; attributes: string } {
  const line = Array.isArray(setCookie) ? setCookie.join('\n') : (setCookie ?? '');
  const match = /gatehouse_refresh=([^;]*);(.*)/.exec(line);
  assert.ok(match, `a gatehouse_refresh cookie is set: ${line}`);
  return { value: match[1]!, attributes: match[2]! };
}

async function cookieLogin(app: TestApp, username: string) {
  return app.app.inject({ method: 'POST', url: '/login', headers: CSRF, payload: { username, password: PASSWORD }, remoteAddress: freshIp() });
}

test('cookie mode: login with the CSRF header sets an HttpOnly, Secure, SameSite=Strict cookie on /refresh and leaves the token out of the body', async (t) => {
  const app = await buildTestApp(t, { REFRESH_TOKEN_COOKIE: 'true' });
  await register(app, { username: 'cookie_a' });
  const res = await cookieLogin(app, 'cookie_a');
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().refresh_token, undefined);
  assert.ok(res.json().access_token);
  const cookie = cookieOf(res.headers['set-cookie']);
  assert.match(cookie.value, /^ghr_/);
  for (const attr of ['Path=/refresh', 'HttpOnly', 'Secure', 'SameSite=Strict', 'Max-Age=604800']) {
    assert.ok(cookie.attributes.includes(attr), `${attr} in ${cookie.attributes}`);
  }
  assert.equal(res.headers['cache-control'], 'no-store');

  // Refresh from the cookie: a new cookie (rotated), and the new access token works.
  const refreshed = await app.app.inject({ method: 'POST', url: '/refresh', headers: { ...CSRF, cookie: `other=1; gatehouse_refresh=${cookie.value}` }, remoteAddress: freshIp() });
  assert.equal(refreshed.statusCode, 200, refreshed.body);
  const next = cookieOf(refreshed.headers['set-cookie']);
  assert.notEqual(next.value, cookie.value);
  assert.equal(refreshed.json().refresh_token, undefined);
  const me = await app.app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${refreshed.json().access_token}` } });
  assert.equal(me.statusCode, 200);
});

test('cookie mode: the cookie without the CSRF header is refused (403 csrf_check_failed) and rotates nothing', async (t) => {
  const app = await buildTestApp(t, { REFRESH_TOKEN_COOKIE: 'true' });
  await register(app, { username: 'cookie_b' });
  const cookie = cookieOf((await cookieLogin(app, 'cookie_b')).headers['set-cookie']);
  for (const headers of [{ cookie: `gatehouse_refresh=${cookie.value}` }, { cookie: `gatehouse_refresh=${cookie.value}`, 'x-gatehouse-csrf': 'yes' }]) {
    const res = await app.app.inject({ method: 'POST', url: '/refresh', headers, remoteAddress: freshIp() });
    assert.ok([400, 403].includes(res.statusCode), `${res.statusCode} ${res.body}`);
    assert.equal(res.headers['set-cookie'], undefined);
  }
  const forged = await app.app.inject({ method: 'POST', url: '/refresh', headers: { cookie: `gatehouse_refresh=${cookie.value}` }, remoteAddress: freshIp() });
  assert.equal(forged.statusCode, 403);
  assert.equal(forged.json().code, 'csrf_check_failed');
  // The cookie still works with the header: nothing was rotated by the refused request.
  const ok = await app.app.inject({ method: 'POST', url: '/refresh', headers: { ...CSRF, cookie: `gatehouse_refresh=${cookie.value}` }, remoteAddress: freshIp() });
  assert.equal(ok.statusCode, 200, ok.body);
});

test('cookie mode: a dead cookie is answered 401 and cleared; logout clears it', async (t) => {
  const app = await buildTestApp(t, { REFRESH_TOKEN_COOKIE: 'true' });
  await register(app, { username: 'cookie_c' });
  const res = await cookieLogin(app, 'cookie_c');
  const access = res.json().access_token as string;
  const logout = await app.app.inject({ method: 'POST', url: '/logout', headers: { ...CSRF, authorization: `Bearer ${access}` }, payload: {} });
  assert.equal(logout.statusCode, 200, logout.body);
  assert.match(String(logout.headers['set-cookie']), /gatehouse_refresh=; Path=\/refresh; Max-Age=0/);
  const dead = await app.app.inject({ method: 'POST', url: '/refresh', headers: { ...CSRF, cookie: `gatehouse_refresh=${cookieOf(res.headers['set-cookie']).value}` }, remoteAddress: freshIp() });
  assert.equal(dead.statusCode, 401);
  assert.match(String(dead.headers['set-cookie']), /Max-Age=0/);
});

test('cookie mode: requests without the header keep the body protocol; the body token wins over a cookie', async (t) => {
  const app = await buildTestApp(t, { REFRESH_TOKEN_COOKIE: 'true' });
  await register(app, { username: 'cookie_d' });
  const tokens = await login(app, 'cookie_d');
  assert.match(tokens.refresh_token, /^ghr_/);
  const res = await app.app.inject({ method: 'POST', url: '/refresh', headers: { cookie: 'gatehouse_refresh=ghr_bogus' }, payload: { refresh_token: tokens.refresh_token }, remoteAddress: freshIp() });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['set-cookie'], undefined);
  assert.match(res.json().refresh_token, /^ghr_/);
});

test('cookie mode off (the default): the cookie is ignored and the header sets nothing', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'cookie_e' });
  const res = await cookieLogin(app, 'cookie_e');
  assert.equal(res.statusCode, 200);
  // The device cookie (security review item 6) is set either way; no refresh cookie is.
  assert.doesNotMatch(String(res.headers['set-cookie'] ?? ''), /gatehouse_refresh=/);
  assert.match(res.json().refresh_token, /^ghr_/);
  const viaCookie = await app.app.inject({ method: 'POST', url: '/refresh', headers: { ...CSRF, cookie: `gatehouse_refresh=${res.json().refresh_token}` }, remoteAddress: freshIp() });
  assert.equal(viaCookie.statusCode, 400);
  assert.equal((await refresh(app, res.json().refresh_token)).statusCode, 200);
});

test('cookie mode is in the OpenAPI document: the X-Gatehouse-CSRF header, and refresh_token optional in the answer', async (t) => {
  const app = await buildTestApp(t, { REFRESH_TOKEN_COOKIE: 'true' });
  const doc = (await app.app.inject({ method: 'GET', url: '/openapi.json' })).json();
  for (const path of ['/login', '/refresh']) {
    const op = doc.paths[path].post;
    assert.ok(op.parameters.some((p: { in: string; name: string }) => p.in === 'header' && p.name === 'x-gatehouse-csrf'), `${path} documents the header`);
    const schema = op.responses['200'].content['application/json'].schema;
    const resolved = schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema;
    assert.ok(resolved.properties.refresh_token);
    assert.ok(!resolved.required.includes('refresh_token'));
  }
  assert.match(doc.paths['/refresh'].post.description, /gatehouse_refresh/);
});
