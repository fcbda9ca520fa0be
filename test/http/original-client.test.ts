/**
 * The original FastAPI service's clients, over real HTTP: its own test file's two checks
 * (auth_system/tests/test_auth.py) with their exact assertions, then every error answer
 * its clients rely on, by status and exact `detail`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, countRows, type TestApp } from '../helpers/app.js';

async function listening(t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}): Promise<{ app: TestApp; base: string }> {
  const app = await buildTestApp(t, env);
  const address = await app.app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base: address };
}

/** As `client.post(url, json=...)` sends it. */
const postJson = (base: string, path: string, body: unknown) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** As `client.post(url, data=...)` sends it: a form. */
const postForm = (base: string, path: string, fields: Record<string, string>) =>
  fetch(`${base}${path}`, { method: 'POST', body: new URLSearchParams(fields) });

test("the original service's test file: register answers 200 with exactly its message, login by form returns both tokens", async (t) => {
  const { base } = await listening(t);
  const response = await postJson(base, '/register', {
    username: 'testuser',
    email: 'test@example.com',
    password: 'Test1234',
    confirm_password: 'Test1234',
  });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { message: 'User created successfully' });

  const login = await postForm(base, '/login', { username: 'testuser', password: 'Test1234' });
  assert.equal(login.status, 200);
  const tokens = (await login.json()) as Record<string, unknown>;
  assert.ok('access_token' in tokens);
  assert.ok('refresh_token' in tokens);
});

const valid = { username: 'original', email: 'original@example.com', password: 'Test1234', confirm_password: 'Test1234' };

for (const [name, body, detail] of [
  ['a password shorter than 8', { ...valid, password: 'Te12', confirm_password: 'Te12' }, 'Password must be at least 8 characters long'],
  ['a password without an uppercase letter', { ...valid, password: 'test1234', confirm_password: 'test1234' }, 'Password must contain at least one uppercase letter'],
  ['a password without a digit', { ...valid, password: 'Testtest', confirm_password: 'Testtest' }, 'Password must contain at least one digit'],
  ['a short password without an uppercase letter (the first rule broken)', { ...valid, password: 'te12', confirm_password: 'te12' }, 'Password must be at least 8 characters long'],
  ['a mismatched confirmation', { ...valid, confirm_password: 'Test12345' }, "Passwords don't match"],
  ['a bad email', { ...valid, email: 'not-an-email' }, 'Invalid email format'],
] as const) {
  test(`register with ${name}: 400 with the original's sentence, the errors list beside it, nothing stored`, async (t) => {
    const { app, base } = await listening(t);
    const response = await postJson(base, '/register', body);
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    const problem = (await response.json()) as { detail: string; code: string; errors: unknown[] };
    assert.equal(problem.detail, detail);
    assert.equal(problem.code, 'validation_failed');
    assert.ok(Array.isArray(problem.errors) && problem.errors.length >= 1);
    assert.equal(await countRows(app.dir, 'users'), 0);
  });
}

test("a taken username or email: 400 'Username already exists' / 'Email already exists', the code kept", async (t) => {
  const { app, base } = await listening(t);
  assert.equal((await postJson(base, '/register', valid)).status, 200);

  const sameName = await postJson(base, '/register', { ...valid, email: 'other@example.com' });
  assert.equal(sameName.status, 400);
  const nameProblem = (await sameName.json()) as { detail: string; code: string };
  assert.equal(nameProblem.detail, 'Username already exists');
  assert.equal(nameProblem.code, 'username_taken');

  const sameEmail = await postJson(base, '/register', { ...valid, username: 'someone_else' });
  assert.equal(sameEmail.status, 400);
  const emailProblem = (await sameEmail.json()) as { detail: string; code: string };
  assert.equal(emailProblem.detail, 'Email already exists');
  assert.equal(emailProblem.code, 'email_taken');
  assert.equal(await countRows(app.dir, 'users'), 1);
});

test("bad credentials: 401 'Incorrect username or password' with WWW-Authenticate: Bearer, alike for an unknown user", async (t) => {
  const { base } = await listening(t);
  assert.equal((await postJson(base, '/register', valid)).status, 200);
  for (const username of ['original', 'nobody_here']) {
    const response = await postForm(base, '/login', { username, password: 'Wrong1234' });
    assert.equal(response.status, 401, username);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer\b/);
    assert.equal(((await response.json()) as { detail: string }).detail, 'Incorrect username or password');
  }
});
