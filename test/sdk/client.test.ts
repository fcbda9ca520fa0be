/**
 * @gatehouse/client in Node (no Web Locks here: it serialises within the process) against a
 * real Gatehouse over real HTTP. Network failures are injected through the `fetch` option.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { GatehouseError, createClient, type GatehouseClient } from '../../packages/client/src/index.js';
import { PASSWORD, buildTestApp, register, sqlRows, type TestApp } from '../helpers/app.js';

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

test('login with a second factor: 403 mfa_required, then POST /login/mfa (contract shape)', async (t) => {
  // Gatehouse's MFA endpoints are not built yet: a stand-in server answers per shared/spec/API.md.
  const seen: Array<{ url: string; body: unknown }> = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      seen.push({ url: req.url!, body: JSON.parse(raw || '{}') });
      res.setHeader('content-type', 'application/json');
      if (req.url === '/login') {
        res.statusCode = 403;
        res.setHeader('content-type', 'application/problem+json');
        return res.end(JSON.stringify({ type: 'x', title: 'MFA required', status: 403, detail: 'second factor', code: 'mfa_required', mfa_token: 'mt_1', factors: ['totp', 'recovery_code'] }));
      }
      res.end(JSON.stringify({ access_token: 'a.b.c', refresh_token: 'ghr_x', token_type: 'bearer', expires_in: 900 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const client = signedInClient(t, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const first = await client.login({ username: 'u', password: 'p' });
  assert.deepEqual(first, { mfaRequired: true, mfaToken: 'mt_1', factors: ['totp', 'recovery_code'] });
  assert.equal(client.signedIn, false);
  await client.loginMfa({ mfaToken: 'mt_1', code: '123456' });
  assert.equal(client.signedIn, true);
  assert.deepEqual(seen[1], { url: '/login/mfa', body: { mfa_token: 'mt_1', code: '123456' } });
  await client.loginMfa({ mfaToken: 'mt_1', recoveryCode: 'abcd-efgh' });
  assert.deepEqual(seen[2]!.body, { mfa_token: 'mt_1', recovery_code: 'abcd-efgh' });
});
