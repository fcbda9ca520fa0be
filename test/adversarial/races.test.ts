/** Concurrency: the database decides, never the order requests happen to run in. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, buildTestApp, countRows, freshIp, login, me, refresh, register } from '../helpers/app.js';

test('50 concurrent registrations of one username: exactly one wins', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_REGISTER_PER_HOUR: '1000' });
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      app.app.inject({ method: 'POST', url: '/register', payload: { username: i % 2 ? 'Racer' : 'racer', email: `r${i}@example.com`, password: PASSWORD }, remoteAddress: freshIp() }),
    ),
  );
  const codes = results.map((r) => r.statusCode);
  assert.equal(codes.filter((c) => c === 200).length, 1, codes.join(','));
  assert.equal(codes.filter((c) => c === 400).length, 49);
  assert.equal(await countRows(app.dir, 'users'), 1);
});

test('20 concurrent refreshes of one token: one new family member, every answer the same child', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_REFRESH_PER_MINUTE: '1000' });
  await register(app, { username: 'tabby' });
  const tokens = await login(app, 'tabby');
  const results = await Promise.all(Array.from({ length: 20 }, () => refresh(app, tokens.refresh_token)));
  const ok = results.filter((r) => r.statusCode === 200);
  assert.equal(ok.length, 20, results.map((r) => r.statusCode).join(','));
  assert.equal(new Set(ok.map((r) => r.json().refresh_token)).size, 1, 'never two live branches');
  const [row] = await import('../helpers/app.js').then((h) => h.sqlRows<{ generation: number }>(app.dir, 'SELECT generation FROM sessions'));
  assert.equal(Number(row!.generation), 1, 'rotated exactly once');
  assert.equal(await countRows(app.dir, 'sessions'), 1, 'one session');
});

test('concurrent logout and refresh of one session: it always ends revoked', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_REFRESH_PER_MINUTE: '1000', RATE_LIMIT_LOGIN_PER_MINUTE: '1000' });
  await register(app, { username: 'duel' });
  for (let round = 0; round < 20; round++) {
    const tokens = await login(app, 'duel');
    const [r, out] = await Promise.all([
      refresh(app, tokens.refresh_token),
      app.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${tokens.access_token}` } }),
    ]);
    assert.equal(out.statusCode, 200);
    if (r.statusCode === 200) {
      assert.equal((await me(app, r.json().access_token)).statusCode, 401, `round ${round}: the child is dead`);
      assert.equal((await refresh(app, r.json().refresh_token)).statusCode, 401);
    }
    assert.equal((await refresh(app, tokens.refresh_token)).statusCode, 401);
  }
});

test('an email token used twice at once: exactly one use succeeds', async (t) => {
  const { startSmtp, linkToken } = await import('../helpers/smtp.js');
  const smtp = await startSmtp(t);
  const app = await buildTestApp(t, { SMTP_URL: smtp.url, EMAIL_VERIFY_ON_REGISTER: 'false' });
  await register(app, { username: 'twice', email: 'twice@example.com' });
  await app.app.inject({ method: 'POST', url: '/password/forgot', payload: { email: 'twice@example.com' }, remoteAddress: freshIp() });
  const { token } = linkToken(await smtp.next('twice@example.com'), '/password/reset');
  const results = await Promise.all(
    ['NewPassOne1', 'NewPassTwo2', 'NewPassThree3'].map((p) => app.app.inject({ method: 'POST', url: '/password/reset', payload: { token, new_password: p }, remoteAddress: freshIp() })),
  );
  assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 400, 400]);
});
