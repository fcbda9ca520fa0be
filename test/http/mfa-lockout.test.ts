/**
 * A second factor and the account lockout: wrong codes count like wrong passwords, and a
 * second factor never lets an attacker who knows the password lock out a device that has
 * logged in before (the device rule of the security review, item 6).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, PASSWORD, buildTestApp, freshIp, login, register, type TestApp } from '../helpers/app.js';
import { codeAt, enrolTotp, mfaLogin, passwordStep, wrongCode } from '../helpers/mfa.js';

async function userWithTotp(t: Parameters<typeof buildTestApp>[0], username: string) {
  const clock = new FakeClock();
  const app = await buildTestApp(t, {}, { clock });
  await register(app, { username });
  const session = await login(app, username);
  const { secret } = await enrolTotp(app, session.access_token, clock.now().getTime());
  return { app, clock, secret };
}

/** Ten wrong codes on two mfa_tokens (each dies at five): LOCKOUT_ACCOUNT_FAILURES' default. */
async function guessCodes(app: TestApp, clock: FakeClock, username: string, secret: string) {
  for (let round = 0; round < 2; round++) {
    const mfaToken = await passwordStep(app, username);
    for (let i = 0; i < 5; i++) {
      const res = await mfaLogin(app, { mfa_token: mfaToken, code: wrongCode(secret, clock.now().getTime()) });
      assert.equal(res.statusCode, 401, res.body);
      assert.equal(res.json().code, 'invalid_mfa_code');
    }
  }
}

function passwordLogin(app: TestApp, body: Record<string, string> = {}) {
  return app.app.inject({ method: 'POST', url: '/login', payload: { username: 'nora', password: PASSWORD, ...body }, remoteAddress: freshIp() });
}

test('wrong second-factor codes count toward the account lockout, like wrong passwords', async (t) => {
  const { app, clock, secret } = await userWithTotp(t, 'nora');
  await guessCodes(app, clock, 'nora', secret);

  const locked = await passwordLogin(app);
  assert.equal(locked.statusCode, 429, 'ten wrong codes lock the account for unknown devices');
  assert.equal(locked.json().code, 'account_locked');
  const events = await app.stores.audit.list({ type: 'lockout', limit: 10 });
  assert.equal(events.length, 1, 'the lockout is in the audit trail');
});

test('a locked account takes no more code guesses, even on a live mfa_token', async (t) => {
  const { app, clock, secret } = await userWithTotp(t, 'nora');
  const live = await passwordStep(app, 'nora');
  await guessCodes(app, clock, 'nora', secret);
  const right = await mfaLogin(app, { mfa_token: live, code: codeAt(secret, clock.now().getTime()) });
  assert.equal(right.statusCode, 429, `a guess was checked on a locked account: ${right.body}`);
});

test('a second factor cannot be used to lock out a device that has logged in before', async (t) => {
  const { app, clock, secret } = await userWithTotp(t, 'nora');
  // The owner's device completes a login with its code: it gets a device token.
  clock.advance(30_000); // the activation spent the current code
  const first = await mfaLogin(app, { mfa_token: await passwordStep(app, 'nora'), code: codeAt(secret, clock.now().getTime()) });
  assert.equal(first.statusCode, 200, first.body);
  const deviceToken = (first.json() as { device_token?: string }).device_token;
  assert.equal(typeof deviceToken, 'string', 'the second step returns the device token, as /login does');
  assert.match(String(first.headers['set-cookie']), /gatehouse_device=.*HttpOnly/);

  await guessCodes(app, clock, 'nora', secret);
  assert.equal((await passwordLogin(app)).statusCode, 429, 'unknown devices are locked out');

  // The owner's device: password step and second step both count against it alone.
  const step = await passwordLogin(app, { device_token: deviceToken! });
  assert.equal(step.statusCode, 403, `the owner's device was locked out: ${step.body}`);
  assert.equal(step.json().code, 'mfa_required');
  clock.advance(30_000); // the next code: the one used above is spent
  const done = await mfaLogin(app, { mfa_token: step.json().mfa_token, code: codeAt(secret, clock.now().getTime()) });
  assert.equal(done.statusCode, 200, `the owner's second step was locked out: ${done.body}`);
  assert.equal((await passwordLogin(app)).statusCode, 429, 'the account stays locked for everyone else');
});

test('the right password alone neither clears nor spends the lockout budget', async (t) => {
  const { app, clock, secret } = await userWithTotp(t, 'nora');
  // Nine wrong codes, then many right passwords that stop at mfa_required: the tenth wrong code still locks.
  const token = await passwordStep(app, 'nora');
  for (let i = 0; i < 4; i++) assert.equal((await mfaLogin(app, { mfa_token: token, code: wrongCode(secret, clock.now().getTime()) })).statusCode, 401);
  const second = await passwordStep(app, 'nora');
  for (let i = 0; i < 5; i++) assert.equal((await mfaLogin(app, { mfa_token: second, code: wrongCode(secret, clock.now().getTime()) })).statusCode, 401);
  for (let i = 0; i < 12; i++) await passwordStep(app, 'nora');
  const last = await passwordStep(app, 'nora');
  assert.equal((await mfaLogin(app, { mfa_token: last, code: wrongCode(secret, clock.now().getTime()) })).statusCode, 401);
  assert.equal((await passwordLogin(app)).statusCode, 429);
});
