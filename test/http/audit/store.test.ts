/**
 * The trail is append-only and outlives what it records: the store can only append and
 * list; deleting an account keeps its rows, and ids are not reused. Helpers: test/helpers/audit.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, buildTestApp, login, register, sqlRows } from '../../helpers/app.js';
import { auth, call, clientIp } from '../../helpers/audit.js';

test('the audit store can only append and list', async (t) => {
  const app = await buildTestApp(t);
  const proto = Object.getPrototypeOf(app.stores.audit) as object;
  assert.deepEqual(Object.getOwnPropertyNames(proto).sort(), ['append', 'constructor', 'list']);
  assert.deepEqual(Object.keys(proto), []);
});

test('entries outlive the account: DELETE /me keeps every earlier row of that user, and ids are not reused', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'gone', email: 'gone@example.com' });
  const s = await login(app, 'gone');
  assert.equal((await call(app, '/login', { payload: { username: 'gone', password: 'Wrong-Pass-3' }, ip: clientIp() })).statusCode, 401);
  assert.equal((await call(app, '/password/change', { headers: auth(s.access_token), payload: { current_password: PASSWORD, new_password: 'Changed-Pass-4' }, ip: clientIp() })).statusCode, 200);
  const before = await app.stores.audit.list({ userId: id, limit: 100 });
  assert.deepEqual(before.map((e) => e.type), ['password_changed', 'login_failed', 'login_succeeded', 'email_verification_sent', 'registered']);

  const ip = clientIp();
  const del = await call(app, '/me', { method: 'DELETE', headers: auth(s.access_token), payload: { password: 'Changed-Pass-4' }, ip });
  assert.equal(del.statusCode, 204, del.body);
  assert.equal((await sqlRows(app.dir, `SELECT id FROM users WHERE id = ${id}`)).length, 0, 'the user is gone');

  const after = await app.stores.audit.list({ userId: id, limit: 100 });
  assert.deepEqual(after.map((e) => e.type), ['account_deleted', ...before.map((e) => e.type)]);
  assert.deepEqual(after.slice(1), before, 'earlier rows unchanged');
  assert.equal(after[0]!.ip, ip);
  const [{ n }] = await sqlRows<{ n: number | string }>(app.dir, `SELECT count(*) AS n FROM security_events WHERE user_id = ${id}`);
  assert.equal(Number(n), 6);

  // The same name again is a new user: the old trail is not attributed to it.
  const again = await register(app, { username: 'gone', email: 'gone@example.com' });
  assert.notEqual(again.id, id);
  assert.deepEqual((await app.stores.audit.list({ userId: again.id, limit: 100 })).map((e) => e.type), ['email_verification_sent', 'registered']);
  assert.equal((await app.stores.audit.list({ userId: id, limit: 100 })).length, 6);
});
