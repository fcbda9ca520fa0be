/**
 * Every use case that writes more than once does it in one transaction: make its Nth write
 * fail (as a database outage would) and nothing of the earlier writes persists, and the
 * caller gets a clean 503 problem.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { buildGatehouse } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { hashToken, newEmailToken } from '../../src/crypto/random.js';
import type { Clock } from '../../src/services/ports.js';
import { FAST_HASH_ENV, FakeClock, PASSWORD, TEST_KEK_ENV, databaseUrlFor, freshIp, login, me, register, tempDir, type TestApp } from '../helpers/app.js';
import { bearer, codeAt, enrolTotp, mfaLogin, passwordStep } from '../helpers/mfa.js';
import { failingOnWrite, openTestStores } from '../helpers/stores.js';

async function appFailingOnWrite(t: TestContext, clock?: Clock) {
  const dir = tempDir(t);
  const env = { DATABASE_URL: databaseUrlFor(dir), LOG_LEVEL: 'warn', ...FAST_HASH_ENV, ...TEST_KEK_ENV };
  const config = loadConfig(env, dir);
  const { stores } = await openTestStores(t, { dir });
  const failing = failingOnWrite(stores);
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const gh = await buildGatehouse(config, { stores: failing.stores, logStream: sink, ...(clock ? { clock } : {}) });
  t.after(() => gh.app.close());
  const app: TestApp = { ...gh, dir, dbFile: path.join(dir, 'gatehouse.sqlite'), logs: [], env };
  return { app, stores, failing };
}

function assertUnavailable(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, what: string) {
  assert.equal(res.statusCode, 503, what);
  assert.match(String(res.headers['content-type']), /application\/problem\+json/, what);
  const body = res.json() as { status: number; detail: string };
  assert.equal(body.status, 503, what);
  assert.doesNotMatch(JSON.stringify(body), /injected|at \//, `${what}: no internals in the answer`);
}

const auditTypes = async (app: TestApp, userId?: number) => (await app.stores.audit.list({ userId, limit: 100 })).map((e) => e.type);

test('registration: the user and its audit event, or neither', async (t) => {
  const { app, failing } = await appFailingOnWrite(t);
  for (const n of [1, 2]) {
    failing.arm(n);
    const res = await app.app.inject({ method: 'POST', url: '/register', payload: { username: 'newbie', email: 'newbie@example.com', password: PASSWORD } });
    assertUnavailable(res, `register, write ${n} failing`);
    failing.arm(0);
    assert.equal(await app.stores.users.findByLogin('newbie'), undefined, `write ${n}: no user left behind`);
    assert.deepEqual(await auditTypes(app), []);
  }
  failing.arm(0);
  await register(app, { username: 'newbie' });
  assert.equal(failing.writes(), 2, 'registration writes twice');
});

test('login: the session and its audit event, or neither', async (t) => {
  const { app, failing } = await appFailingOnWrite(t);
  const { id } = await register(app, { username: 'alice' });
  for (const n of [1, 2]) {
    failing.arm(n);
    const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: PASSWORD }, remoteAddress: freshIp() });
    assertUnavailable(res, `login, write ${n} failing`);
    failing.arm(0);
    assert.deepEqual(await app.stores.sessions.listActive(id, new Date()), [], `write ${n}: no session left behind`);
    assert.ok(!(await auditTypes(app, id)).includes('login_succeeded'));
  }
  failing.arm(0);
  await login(app, 'alice');
  assert.equal(failing.writes(), 2);
});

test('password change: the new hash, the other sessions revoked and the event, or nothing', async (t) => {
  const { app, failing } = await appFailingOnWrite(t);
  const { id } = await register(app, { username: 'bob' });
  const caller = await login(app, 'bob');
  const other = await login(app, 'bob');
  const hashBefore = (await app.stores.users.findById(id))!.passwordHash;
  const change = () =>
    app.app.inject({
      method: 'POST',
      url: '/password/change',
      headers: { authorization: `Bearer ${caller.access_token}` },
      payload: { current_password: PASSWORD, new_password: 'An0ther-Secret' },
      remoteAddress: freshIp(),
    });
  for (const n of [1, 2, 3]) {
    failing.arm(n);
    assertUnavailable(await change(), `password change, write ${n} failing`);
    failing.arm(0);
    assert.equal((await app.stores.users.findById(id))!.passwordHash, hashBefore, `write ${n}: the old password stays`);
    assert.equal((await me(app, other.access_token)).statusCode, 200, `write ${n}: the other session lives`);
    assert.ok(!(await auditTypes(app, id)).includes('password_changed'));
  }
  failing.arm(0);
  assert.equal((await change()).statusCode, 200);
  assert.equal(failing.writes(), 3);
  assert.equal((await me(app, other.access_token)).statusCode, 401);
});

test('password reset: token used, hash set, sessions and older links ended, event; or nothing', async (t) => {
  const { app, stores, failing } = await appFailingOnWrite(t);
  const { id } = await register(app, { username: 'carol' });
  const session = await login(app, 'carol');
  const hashBefore = (await app.stores.users.findById(id))!.passwordHash;
  const now = Date.now();
  const token = newEmailToken();
  const older = newEmailToken();
  for (const [value, at] of [[older, now - 60_000], [token, now]] as const) {
    await stores.emailTokens.create({ hash: hashToken(value), userId: id, purpose: 'reset_password', email: 'carol@example.com', createdAt: new Date(at), expiresAt: new Date(at + 3_600_000) });
  }
  const reset = () => app.app.inject({ method: 'POST', url: '/password/reset', payload: { token, new_password: 'Brand-New-Secret1' }, remoteAddress: freshIp() });
  for (const n of [1, 2, 3, 4, 5]) {
    failing.arm(n);
    assertUnavailable(await reset(), `password reset, write ${n} failing`);
    failing.arm(0);
    assert.equal((await app.stores.users.findById(id))!.passwordHash, hashBefore, `write ${n}: the old password stays`);
    assert.equal((await me(app, session.access_token)).statusCode, 200, `write ${n}: the session lives`);
    assert.ok(!(await auditTypes(app, id)).includes('password_reset'));
  }
  failing.arm(0);
  assert.equal((await reset()).statusCode, 200, 'the link still works after the failed attempts');
  assert.equal(failing.writes(), 5);
  assert.equal((await me(app, session.access_token)).statusCode, 401);
  // The older link was voided with it.
  assert.equal(await stores.emailTokens.consume(hashToken(older), 'reset_password', new Date()), undefined);
});

test('logout from every session: all revoked with the event, or none', async (t) => {
  const { app, failing } = await appFailingOnWrite(t);
  const { id } = await register(app, { username: 'dave' });
  const a = await login(app, 'dave');
  await login(app, 'dave');
  for (const n of [1, 2]) {
    failing.arm(n);
    assertUnavailable(await app.app.inject({ method: 'POST', url: '/logout/all', headers: { authorization: `Bearer ${a.access_token}` } }), `logout-all, write ${n} failing`);
    failing.arm(0);
    assert.equal((await app.stores.sessions.listActive(id, new Date())).length, 2, `write ${n}: both sessions live`);
  }
});

test('account deletion: the account goes with its event, or stays', async (t) => {
  const { app, failing } = await appFailingOnWrite(t);
  const { id } = await register(app, { username: 'erin' });
  const a = await login(app, 'erin');
  for (const n of [1, 2]) {
    failing.arm(n);
    const res = await app.app.inject({ method: 'DELETE', url: '/me', headers: { authorization: `Bearer ${a.access_token}` }, payload: { password: PASSWORD }, remoteAddress: freshIp() });
    assertUnavailable(res, `account deletion, write ${n} failing`);
    failing.arm(0);
    assert.ok(await app.stores.users.findById(id), `write ${n}: the account stays`);
    assert.equal((await me(app, a.access_token)).statusCode, 200);
  }
});

test('the import: a failing statement leaves none of the users it had written', async (t) => {
  const { stores } = await openTestStores(t);
  const user = (id: number) => ({ id, legacyUsername: `old${id}`, username: `old${id}`, usernameKey: `old${id}`, email: `old${id}@example.com`, emailKey: `old${id}@example.com`, passwordHash: '$2b$04$x' });
  await assert.rejects(
    stores.imports.importLegacy({
      users: [user(1), user(2)],
      // An invalid time fails the last statement, after both users went in.
      revokedTokens: [{ jti: 'j', expiresAt: new Date(Number.NaN) }],
      now: new Date(),
      dryRun: false,
    }),
  );
  assert.equal(await stores.users.findByLogin('old1'), undefined);
  assert.equal(await stores.users.findByLogin('old2'), undefined);
});

test('first factor: activation, recovery codes, the other sessions ended and the event, or nothing', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 10));
  const { app, failing } = await appFailingOnWrite(t, clock);
  const { id } = await register(app, { username: 'mfa_user' });
  const caller = await login(app, 'mfa_user');
  const other = await login(app, 'mfa_user');
  const start = await app.app.inject({ method: 'POST', url: '/mfa/totp', headers: bearer(caller.access_token), payload: { password: PASSWORD } });
  assert.equal(start.statusCode, 201, start.body);
  const { factor_id, secret } = start.json();
  const activate = () =>
    app.app.inject({
      method: 'POST',
      url: '/mfa/totp/activate',
      headers: bearer(caller.access_token),
      payload: { factor_id, code: codeAt(secret, clock.now().getTime()) },
    });
  for (const n of [1, 2, 3, 4, 5]) {
    clock.advance(30_000); // each attempt spends its code's step
    failing.arm(n);
    assertUnavailable(await activate(), `activation, write ${n} failing`);
    failing.arm(0);
    assert.deepEqual(await app.stores.mfa.listActive(id), [], `write ${n}: the factor is still pending`);
    assert.equal(await app.stores.mfa.countRecoveryCodes(id), 0, `write ${n}: no recovery codes`);
    assert.equal((await me(app, other.access_token)).statusCode, 200, `write ${n}: the other session lives`);
    assert.ok(!(await auditTypes(app, id)).includes('mfa_factor_added'));
  }
  clock.advance(30_000);
  failing.arm(0);
  const ok = await activate();
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(failing.writes(), 5, "the code's step, activation, recovery codes, sessions, audit");
  assert.equal(ok.json().recovery_codes.length, 10);
  assert.equal((await me(app, other.access_token)).statusCode, 401);
});

test('second step: the code (TOTP step or recovery code), the mfa_token, the session and the events, or nothing', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 10));
  const { app, failing } = await appFailingOnWrite(t, clock);
  const { id } = await register(app, { username: 'two_step' });
  const first = await login(app, 'two_step');
  const { secret, recoveryCodes } = await enrolTotp(app, first.access_token, clock.now().getTime());
  clock.advance(30_000); // past the step activation used
  const code = codeAt(secret, clock.now().getTime());
  const recovery = recoveryCodes![0]!;
  const cases: Array<{ what: string; body: Record<string, string>; writes: number }> = [
    // the token, the code's step, the session, login_succeeded
    { what: 'TOTP code', body: { code }, writes: 4 },
    // the token, the recovery code, mfa_recovery_code_used, the session, login_succeeded
    { what: 'recovery code', body: { recovery_code: recovery }, writes: 5 },
  ];
  for (const { what, body, writes } of cases) {
    const mfaToken = await passwordStep(app, 'two_step');
    const sessionsBefore = (await app.stores.sessions.listActive(id, clock.now())).length;
    for (let n = 1; n <= writes; n++) {
      failing.arm(n);
      assertUnavailable(await mfaLogin(app, { mfa_token: mfaToken, ...body }), `${what}, write ${n} failing`);
      failing.arm(0);
      assert.equal((await app.stores.sessions.listActive(id, clock.now())).length, sessionsBefore, `${what}, write ${n}: no session`);
      assert.ok((await app.stores.mfa.findChallenge(hashToken(mfaToken), 'mfa', clock.now())) !== undefined, `${what}, write ${n}: the mfa_token lives`);
      assert.equal(await app.stores.mfa.countRecoveryCodes(id), 10, `${what}, write ${n}: no recovery code used up`);
    }
    // The code itself is still unused: the failed steps recorded nothing.
    const ok = await mfaLogin(app, { mfa_token: mfaToken, ...body });
    assert.equal(ok.statusCode, 200, `${what}: ${ok.body}`);
    assert.equal(failing.writes(), writes, `${what}: ${writes} writes in the step's transaction`);
  }
  assert.equal(await app.stores.mfa.countRecoveryCodes(id), 9);
});
