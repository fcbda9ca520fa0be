/**
 * A NUL character in any field is a 400 on both databases (PostgreSQL refuses NUL in text;
 * the fuzz test found POST /mfa/totp/activate {"factor_id":"\u0000"} answered 500 there).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, login, register } from '../helpers/app.js';
import { bearer } from '../helpers/mfa.js';

test('a NUL in the body, a path parameter or the query is 400 validation_failed, never 500, and changes nothing', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'nul' });
  const { access_token } = await login(app, 'nul');
  const requests = [
    { method: 'POST' as const, url: '/mfa/totp/activate', headers: bearer(access_token), payload: { factor_id: '\u0000', code: '\u0000' } },
    { method: 'DELETE' as const, url: '/sessions/%00', headers: bearer(access_token) },
    { method: 'DELETE' as const, url: '/mfa/factors/a%00b', headers: bearer(access_token), payload: { password: 'x' } },
    { method: 'POST' as const, url: '/login', payload: { username: 'nul\u0000', password: 'x' } },
    { method: 'POST' as const, url: '/register', payload: { username: 'a\u0000b', email: 'a@example.com', password: 'Abcdefgh1', confirm_password: 'Abcdefgh1' } },
    { method: 'POST' as const, url: '/refresh?refresh_token=%00', payload: {} },
  ];
  for (const request of requests) {
    const res = await app.app.inject(request);
    assert.equal(res.statusCode, 400, `${request.method} ${request.url}: ${res.statusCode} ${res.body}`);
    assert.equal(res.json().code, 'validation_failed');
  }
  assert.equal((await app.app.inject({ method: 'GET', url: '/me', headers: bearer(access_token) })).statusCode, 200, 'the session is untouched');
});
