import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, buildTestApp, countRows, register } from '../helpers/app.js';

const countUsers = (app: { dir: string }) => countRows(app.dir, 'users');

test('register with JSON answers 200 with exactly the original message and no secret', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.app.inject({
    method: 'POST',
    url: '/register',
    payload: { username: 'Alice', email: 'Alice@Example.com', password: PASSWORD, confirm_password: PASSWORD },
  });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { message: 'User created successfully' });
  const stored = await app.stores.users.findByLogin('alice');
  assert.equal(stored?.username, 'Alice');
  assert.equal(stored?.email, 'Alice@Example.com');
  assert.equal(stored?.emailVerified, false);
});

test('register with a form body works like JSON', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.app.inject({
    method: 'POST',
    url: '/register',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ username: 'bob', email: 'bob@example.com', password: PASSWORD }).toString(),
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal((await app.stores.users.findByLogin('bob'))?.username, 'bob');
});

test("a username taken in another case, or an email in another case, is 400 with the original's sentence", async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'Carol', email: 'carol@example.com' });
  const sameName = await app.app.inject({
    method: 'POST',
    url: '/register',
    payload: { username: 'cAROL', email: 'other@example.com', password: PASSWORD },
  });
  assert.equal(sameName.statusCode, 400);
  assert.equal(sameName.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(sameName.json().detail, 'Username already exists');
  assert.equal(sameName.json().code, 'username_taken');

  const sameEmail = await app.app.inject({
    method: 'POST',
    url: '/register',
    payload: { username: 'carol2', email: 'CAROL@example.COM', password: PASSWORD },
  });
  assert.equal(sameEmail.statusCode, 400);
  assert.equal(sameEmail.json().detail, 'Email already exists');
  assert.equal(sameEmail.json().code, 'email_taken');
  assert.equal(await countUsers(app), 1);
});

test('NFKC: a full-width username is the same account as its ASCII form', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.app.inject({
    method: 'POST',
    url: '/register',
    payload: { username: 'Ｄａｖｅ', email: 'dave@example.com', password: PASSWORD },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal((await app.stores.users.findByLogin('dave'))?.username, 'Dave');
  const again = await app.app.inject({
    method: 'POST',
    url: '/register',
    payload: { username: 'dave', email: 'dave2@example.com', password: PASSWORD },
  });
  assert.equal(again.statusCode, 400);
  assert.equal(again.json().detail, 'Username already exists');
});

for (const [name, password, message, detail] of [
  ['too short', 'Ab1', /at least 8 characters/, 'Password must be at least 8 characters long'],
  ['empty', '', /at least 8 characters/, 'Password must be at least 8 characters long'],
  ['no uppercase letter', 'lowercase123', /uppercase/, 'Password must contain at least one uppercase letter'],
  ['no digit', 'NoDigitsHere', /digit/, 'Password must contain at least one digit'],
  ['too long', `A1${'x'.repeat(1100)}`, /at most 1024 characters/, 'Password must be at most 1024 characters long'],
] as const) {
  test(`password rule: ${name} → 400 with the rule's sentence, nothing stored`, async (t) => {
    const app = await buildTestApp(t);
    const res = await app.app.inject({
      method: 'POST',
      url: '/register',
      payload: { username: 'erin', email: 'erin@example.com', password },
    });
    assert.equal(res.statusCode, 400);
    const body = res.json();
    assert.equal(body.status, 400);
    assert.equal(body.detail, detail);
    assert.equal(body.code, 'validation_failed');
    assert.ok(body.errors.some((e: { field: string; message: string }) => e.field === 'password' && message.test(e.message)), res.body);
    assert.equal(await countUsers(app), 0);
  });
}

test('password policy parts are configurable', async (t) => {
  const app = await buildTestApp(t, { PASSWORD_REQUIRE_UPPERCASE: 'false', PASSWORD_REQUIRE_DIGIT: 'false', PASSWORD_MIN_LENGTH: '12' });
  const short = await app.app.inject({ method: 'POST', url: '/register', payload: { username: 'frank', email: 'f@example.com', password: 'shortpass' } });
  assert.equal(short.statusCode, 400);
  const ok = await app.app.inject({ method: 'POST', url: '/register', payload: { username: 'frank', email: 'f@example.com', password: 'long lowercase only' } });
  assert.equal(ok.statusCode, 200, ok.body);
});

test('confirm_password must match when present', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.app.inject({
    method: 'POST',
    url: '/register',
    payload: { username: 'gina', email: 'gina@example.com', password: PASSWORD, confirm_password: 'Different99' },
  });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().detail, "Passwords don't match");
  assert.equal(res.json().errors[0].field, 'confirm_password');
});

test('bad usernames and emails are 400 with the field named', async (t) => {
  const app = await buildTestApp(t);
  const badUsername = 'Username must be 3 to 32 characters of letters, digits, "_", "." or "-"';
  for (const [username, email, field, detail] of [
    ['ab', 'ok@example.com', 'username', badUsername],
    ['has space', 'ok@example.com', 'username', badUsername],
    ['', 'ok@example.com', 'username', badUsername],
    ['fine_name', 'not-an-email', 'email', 'Invalid email format'],
    ['fine_name', '', 'email', 'Invalid email format'],
    ['fine_name', `${'a'.repeat(250)}@example.com`, 'email', 'Invalid email format'],
  ]) {
    const res = await app.app.inject({ method: 'POST', url: '/register', payload: { username, email, password: PASSWORD } });
    assert.equal(res.statusCode, 400, `${username} ${email}`);
    assert.equal(res.json().detail, detail);
    assert.ok(res.json().errors.some((e: { field: string }) => e.field === field), res.body);
  }
  assert.equal(await countUsers(app), 0);
});

test('malformed JSON, a 1 MB body, a 10 000-character username and unknown fields → 4xx, no row written', async (t) => {
  const app = await buildTestApp(t);
  const malformed = await app.app.inject({
    method: 'POST',
    url: '/register',
    headers: { 'content-type': 'application/json' },
    payload: '{"username": "x", ',
  });
  assert.equal(malformed.statusCode, 400);
  assert.equal(malformed.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(malformed.json().code, 'validation_failed');
  assert.deepEqual(malformed.json().errors, [{ field: '(body)', message: 'is not valid for its Content-Type' }], 'a validation failure names what failed');

  const huge = await app.app.inject({
    method: 'POST',
    url: '/register',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ username: 'harry', email: 'h@example.com', password: PASSWORD, pad: 'x'.repeat(1_000_000) }),
  });
  assert.equal(huge.statusCode, 413);
  assert.equal(huge.json().status, 413);

  const longName = await app.app.inject({
    method: 'POST',
    url: '/register',
    payload: { username: 'u'.repeat(10_000), email: 'h@example.com', password: PASSWORD },
  });
  assert.ok([400, 413].includes(longName.statusCode), String(longName.statusCode));

  const unknown = await app.app.inject({
    method: 'POST',
    url: '/register',
    payload: { username: 'harry', email: 'h@example.com', password: PASSWORD, is_admin: true },
  });
  assert.equal(unknown.statusCode, 400);
  assert.deepEqual(unknown.json().errors, [{ field: 'is_admin', message: 'is not an accepted field' }]);

  const wrongType = await app.app.inject({
    method: 'POST',
    url: '/register',
    payload: { username: 12345, email: 'h@example.com', password: PASSWORD },
  });
  assert.equal(wrongType.statusCode, 400);

  const proto = await app.app.inject({
    method: 'POST',
    url: '/register',
    headers: { 'content-type': 'application/json' },
    payload: '{"username":"harry","email":"h@example.com","password":"CorrectHorse9","__proto__":{"admin":true}}',
  });
  assert.equal(proto.statusCode, 400);
  assert.equal(({} as Record<string, unknown>).admin, undefined);

  const text = await app.app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'text/plain' }, payload: 'hi' });
  assert.equal(text.statusCode, 415);

  assert.equal(await countUsers(app), 0);
});

test('two concurrent registrations of one username: exactly one 200 and one 400', async (t) => {
  const app = await buildTestApp(t);
  const attempt = (email: string) =>
    app.app.inject({ method: 'POST', url: '/register', payload: { username: 'Ivy', email, password: PASSWORD } });
  const results = await Promise.all([attempt('ivy1@example.com'), attempt('ivy2@example.com')]);
  assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 400]);
  assert.equal(results.find((r) => r.statusCode === 400)?.json().detail, 'Username already exists');
  assert.equal(await countUsers(app), 1);
});
