/**
 * @gatehouse/client in Node (no Web Locks here: it serialises within the process) against a
 * real Gatehouse over real HTTP. Network failures are injected through the `fetch` option.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { GatehouseError, createClient, type GatehouseClient } from '../../packages/client/src/index.js';
import { PASSWORD, buildTestApp, register, sqlRows, type TestApp } from '../helpers/app.js';
import { claimsOf, codeAt, enrolTotp } from '../helpers/mfa.js';

const SHORT = { ACCESS_TOKEN_EXPIRE_MINUTES: '0.05', RATE_LIMIT_REFRESH_PER_MINUTE: '1000', RATE_LIMIT_LOGIN_PER_MINUTE: '100' }; // 3 s tokens

async function live(t: TestContext, env: Record<string, string> = {}): Promise<{ app: TestApp; url: string }> {
  const app = await buildTestApp(t, env);
  await register(app, { username: 'sdk_user' });
  return { app, url: await app.app.listen({ host: '127.0.0.1', port: 0 }) };
}

/** Refreshes by result, as the server counted them (routine refreshes stay out of the audit trail). */
async function refreshes(app: TestApp, result: 'rotated' | 'replayed' | 'refused' | 'reuse_detected'): Promise<number> {
  const metric = (await app.metrics.registry.getSingleMetric('gatehouse_refreshes_total')!.get()).values.find((v) => v.labels.result === result);
  return metric?.value ?? 0;
}

function signedInClient(t: TestContext, url: string, options: Partial<Parameters<typeof createClient>[0]> = {}): GatehouseClient {
  const client = createClient({ baseUrl: url, crossTab: false, ...options });
  t.after(() => client.close());
  return client;
}

test('register, login, me, sessions, logout: typed calls over the contract', async (t) => {
  const { url } = await live(t);
  const outs: string[] = [];
  const client = signedInClient(t, url, { onSignOut: (reason) => outs.push(reason) });
  const created = await client.register({ username: 'second_user', email: 'second@example.com', password: PASSWORD });
  assert.deepEqual(created, { message: 'User created successfully' });
  await assert.rejects(client.register({ username: 'second_user', email: 'x2@example.com', password: PASSWORD }), (e: unknown) => {
    assert.ok(e instanceof GatehouseError);
    assert.equal(e.status, 400);
    assert.equal(e.message, 'Username already exists');
    return true;
  });
  await assert.rejects(client.login({ username: 'sdk_user', password: 'wrong' }), (e: unknown) => e instanceof GatehouseError && e.status === 401);
  assert.equal(client.signedIn, false);
  assert.deepEqual(await client.login({ username: 'sdk_user', password: PASSWORD }), { mfaRequired: false });
  assert.equal(client.signedIn, true);
  assert.equal((await client.me()).username, 'sdk_user');
  const sessions = await client.sessions();
  assert.equal(sessions.length, 1);
  assert.equal(sessions[0]!.current, true);
  await client.logout();
  assert.equal(client.signedIn, false);
  assert.deepEqual(outs, ['logout']);
  assert.equal(await client.accessToken(), undefined);
});

test('logoutAll and revokeSession end sessions at the server', async (t) => {
  const { url } = await live(t);
  const a = signedInClient(t, url);
  const b = signedInClient(t, url);
  await a.login({ username: 'sdk_user', password: PASSWORD });
  await b.login({ username: 'sdk_user', password: PASSWORD });
  const other = (await a.sessions()).find((s) => !s.current)!;
  await a.revokeSession(other.id);
  // b's access token is dead; its refresh token too, so b is signed out on its next call.
  await assert.rejects(b.me(), (e: unknown) => e instanceof GatehouseError && e.status === 401);
  assert.equal(b.signedIn, false);
  await a.logoutAll();
  assert.equal(a.signedIn, false);
});

test('the fetch wrapper refreshes ahead of expiry, once for 20 concurrent calls', async (t) => {
  const { app, url } = await live(t, SHORT);
  const client = signedInClient(t, url);
  await client.login({ username: 'sdk_user', password: PASSWORD });
  const first = await client.accessToken();
  // 3 s tokens: the refresh-ahead margin is a quarter of that.
  await new Promise((r) => setTimeout(r, 2400));
  const answers = await Promise.all(Array.from({ length: 20 }, () => client.fetch(`${url}/me`)));
  assert.deepEqual([...new Set(answers.map((r) => r.status))], [200]);
  assert.notEqual(await client.accessToken(), first);
  assert.equal(await refreshes(app, 'rotated'), 1);
  assert.equal(await refreshes(app, 'replayed'), 0);
});

test('after a 401 the wrapper refreshes once and retries once', async (t) => {
  const { app, url } = await live(t);
  const client = signedInClient(t, url);
  await client.login({ username: 'sdk_user', password: PASSWORD });
  const token = (await client.accessToken())!;
  // RFC 7009: revoke just this access token (its session lives on).
  const revoked = await app.app.inject({ method: 'POST', url: '/oauth/revoke', payload: { token } });
  assert.equal(revoked.statusCode, 200);
  const res = await client.fetch(`${url}/me`);
  assert.equal(res.status, 200);
  assert.notEqual(await client.accessToken(), token);
  assert.equal(await refreshes(app, 'rotated'), 1);
});

test('a network error or a 5xx from /refresh never signs the user out; a definite 401 does', async (t) => {
  const { app, url } = await live(t, SHORT);
  let failure: 'network' | '503' | undefined;
  const flaky: typeof fetch = async (input, init) => {
    if (String(input).endsWith('/refresh') && failure === 'network') throw new TypeError('fetch failed');
    if (String(input).endsWith('/refresh') && failure === '503') {
      return new Response(JSON.stringify({ status: 503, code: 'service_unavailable', detail: 'down' }), { status: 503 });
    }
    return fetch(input, init);
  };
  const outs: string[] = [];
  const client = signedInClient(t, url, { fetch: flaky, onSignOut: (r) => outs.push(r) });
  await client.login({ username: 'sdk_user', password: PASSWORD });

  failure = 'network';
  await assert.rejects(client.refresh(), TypeError);
  assert.equal(client.signedIn, true);
  // Inside the refresh-ahead margin but not yet expired: the old token is still used.
  await new Promise((r) => setTimeout(r, 2400));
  assert.equal((await client.fetch(`${url}/me`)).status, 200);
  failure = '503';
  await assert.rejects(client.refresh(), (e: unknown) => e instanceof GatehouseError && e.status === 503);
  assert.equal(client.signedIn, true);
  failure = undefined;
  assert.equal((await client.fetch(`${url}/me`)).status, 200);

  // The session ends at the server (another device's "log out everywhere"): /refresh says 401.
  const [{ id }] = await sqlRows<{ id: string }>(app.dir, 'SELECT id FROM sessions');
  await app.stores.sessions.revoke(id!, new Date(), 'admin');
  await assert.rejects(client.refresh(), (e: unknown) => e instanceof GatehouseError && e.status === 401);
  assert.equal(client.signedIn, false);
  assert.deepEqual(outs, ['invalid_grant']);
});

test('without Web Locks, refreshes serialise within the process: 50 callers, one refresh', async (t) => {
  const { app, url } = await live(t);
  const client = signedInClient(t, url);
  await client.login({ username: 'sdk_user', password: PASSWORD });
  await Promise.all(Array.from({ length: 50 }, () => client.refresh()));
  assert.equal(await refreshes(app, 'rotated'), 1);
  assert.equal(await refreshes(app, 'replayed'), 0);
});

test('instances with the same key share tokens and sign-outs over BroadcastChannel', async (t) => {
  const { url } = await live(t);
  const key = `k${process.pid}${Date.now()}`;
  const a = createClient({ baseUrl: url, key });
  const b = createClient({ baseUrl: url, key });
  t.after(() => {
    a.close();
    b.close();
  });
  const changes: boolean[] = [];
  b.onChange((signedIn) => changes.push(signedIn));
  await a.login({ username: 'sdk_user', password: PASSWORD });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(b.signedIn, true);
  assert.equal(await b.accessToken(), await a.accessToken());
  assert.equal((await b.me()).username, 'sdk_user');
  await a.logout();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(b.signedIn, false);
  assert.deepEqual(changes, [true, false]);
});

test('login with a second factor: mfa_required, then loginMfa with a TOTP code or a recovery code', async (t) => {
  const { app, url } = await live(t, { RATE_LIMIT_LOGIN_PER_MINUTE: '100' });
  const client = signedInClient(t, url);
  await client.login({ username: 'sdk_user', password: PASSWORD });
  // Enrolled with the previous step's code, so the current one is still unused.
  const { secret, recoveryCodes } = await enrolTotp(app, (await client.accessToken())!, Date.now() - 30_000);
  await client.logout();

  const first = await client.login({ username: 'sdk_user', password: PASSWORD });
  assert.ok(first.mfaRequired);
  assert.deepEqual(first.factors, ['totp', 'recovery_code']);
  assert.equal(client.signedIn, false);
  await assert.rejects(client.loginMfa({ mfaToken: first.mfaToken, code: '000000' }), (e: unknown) => e instanceof GatehouseError && e.code === 'invalid_mfa_code');
  await client.loginMfa({ mfaToken: first.mfaToken, code: codeAt(secret, Date.now()) });
  assert.equal(client.signedIn, true);
  assert.deepEqual(claimsOf((await client.accessToken())!).amr, ['pwd', 'otp', 'mfa']);
  await client.logout();

  const second = await client.login({ username: 'sdk_user', password: PASSWORD });
  assert.ok(second.mfaRequired);
  await client.loginMfa({ mfaToken: second.mfaToken, recoveryCode: recoveryCodes![0]! });
  assert.equal((await client.me()).username, 'sdk_user');
});

test('the device token of the last login is presented at the next one (no cookie jar needed)', async (t) => {
  const { app, url } = await live(t);
  const lastFailure = async () => {
    const [row] = await sqlRows<{ detail: string }>(app.dir, "SELECT detail FROM security_events WHERE type = 'login_failed' ORDER BY id DESC LIMIT 1");
    return JSON.parse(row!.detail) as Record<string, unknown>;
  };
  const bodies: unknown[] = [];
  const spy: typeof fetch = (input, init) => {
    if (String(input).endsWith('/login')) bodies.push(JSON.parse(String(init?.body)));
    return fetch(input, init);
  };
  const client = signedInClient(t, url, { fetch: spy });
  await assert.rejects(client.login({ username: 'sdk_user', password: 'wrong' }));
  assert.deepEqual(await lastFailure(), { reason: 'wrong_password' });
  await client.login({ username: 'sdk_user', password: PASSWORD });
  await client.logout();
  // Node's fetch keeps no cookies: the body field carries it.
  await assert.rejects(client.login({ username: 'sdk_user', password: 'wrong' }));
  assert.deepEqual(await lastFailure(), { reason: 'wrong_password', known_device: true });
  assert.equal((bodies[0] as { device_token?: string }).device_token, undefined);
  assert.match((bodies[2] as { device_token: string }).device_token, /\S/);
  // Another account: the token is not theirs, so it counts as an unknown device (and nothing breaks).
  await register(app, { username: 'other_user' });
  await client.login({ username: 'other_user', password: PASSWORD });
  assert.equal((await client.me()).username, 'other_user');
});

test('passkey calls outside a browser: a clear error before any request, nobody signed in', async (t) => {
  const requests: string[] = [];
  const client = signedInClient(t, 'http://127.0.0.1:9', {
    fetch: async (input) => {
      requests.push(String(input));
      throw new TypeError('no network in this test');
    },
  });
  await assert.rejects(client.loginWithPasskey(), /navigator\.credentials/);
  await assert.rejects(client.registerPasskey({ password: PASSWORD }), /navigator\.credentials/);
  assert.deepEqual(requests, []);
  assert.equal(client.signedIn, false);
});
