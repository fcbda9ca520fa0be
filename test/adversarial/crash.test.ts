/**
 * kill -9 under load: every registration, rotation and revocation that was answered 2xx
 * before the crash is still there after a restart (SQLite: every write is answered only
 * after an fsync of the WAL that covers its commit, see storage/drizzle/sqlite/connection.ts;
 * PostgreSQL commits before the answer). A kill -9 cannot tell that fsync from none (the
 * kernel keeps the WAL); test/storage/sqlite-durability.test.ts checks the barrier itself.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECT, PASSWORD, databaseUrlFor, sqlRows, tempDir } from '../helpers/app.js';
import { freePort, spawnServer, waitHealthy, type ServerProcess } from '../helpers/processes.js';

interface Answer {
  status: number;
  body: { access_token: string; refresh_token: string } | undefined;
}

async function post(base: string, path: string, body: unknown, token?: string): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const json = res.headers.get('content-type')?.includes('json') ? await res.json() : undefined;
  return { status: res.status, body: json as Answer['body'] };
}

test(`kill -9 under load loses no acknowledged write (${DIALECT})`, { timeout: 180_000 }, async (t) => {
  const dir = tempDir(t);
  const env = {
    DATABASE_URL: databaseUrlFor(dir),
    RATE_LIMIT_LOGIN_PER_MINUTE: '100000',
    RATE_LIMIT_REGISTER_PER_HOUR: '100000',
    RATE_LIMIT_REFRESH_PER_MINUTE: '100000',
    EMAIL_FLOWS: 'false',
    // Long enough that a rotation whose answer the crash swallowed is still a replay.
    REFRESH_REUSE_GRACE_SECONDS: '300',
  };
  const port = await freePort();
  let server: ServerProcess = spawnServer(env, port);
  t.after(() => server.stop());
  await waitHealthy(server);
  const base = server.url;

  // A pool of sessions to rotate and revoke.
  const sessions: Array<{ name: string; refresh: string; access: string }> = [];
  for (let i = 0; i < 12; i++) {
    const name = `base${i}`;
    assert.equal((await post(base, '/register', { username: name, email: `${name}@example.com`, password: PASSWORD })).status, 200);
    const tokens = (await post(base, '/login', { username: name, password: PASSWORD })).body!;
    sessions.push({ name, refresh: tokens.refresh_token, access: tokens.access_token });
  }

  const acknowledged = { registered: [] as string[], rotated: new Map<number, string>(), revoked: [] as string[] };
  let stop = false;
  const workers = [
    // Registrations.
    (async () => {
      for (let i = 0; !stop; i++) {
        const name = `crash${i}`;
        const res = await post(base, '/register', { username: name, email: `${name}@example.com`, password: PASSWORD }).catch(() => undefined);
        if (res?.status === 200) acknowledged.registered.push(name);
      }
    })(),
    // Rotations of sessions 0..7.
    ...[0, 1].map((w) =>
      (async () => {
        while (!stop) {
          for (let s = w; s < 8 && !stop; s += 2) {
            const current = acknowledged.rotated.get(s) ?? sessions[s]!.refresh;
            const res = await post(base, '/refresh', { refresh_token: current }).catch(() => undefined);
            if (res?.status === 200) acknowledged.rotated.set(s, res.body!.refresh_token);
          }
        }
      })(),
    ),
    // Revocations of sessions 8..11, spread over the load.
    (async () => {
      for (let s = 8; s < 12 && !stop; s++) {
        await new Promise((r) => setTimeout(r, 200));
        const res = await post(base, '/logout', {}, sessions[s]!.access).catch(() => undefined);
        if (res?.status === 200) acknowledged.revoked.push(sessions[s]!.access);
      }
    })(),
  ];
  await new Promise((r) => setTimeout(r, 2_000));
  server.child.kill('SIGKILL');
  stop = true;
  await Promise.allSettled(workers);
  await server.stop();
  assert.ok(acknowledged.registered.length > 0 && acknowledged.rotated.size > 0, 'the load did something');

  server = spawnServer(env, port);
  await waitHealthy(server);
  const names = new Set((await sqlRows<{ username: string }>(dir, 'SELECT username FROM users')).map((r) => r.username));
  const missing = acknowledged.registered.filter((n) => !names.has(n));
  assert.deepEqual(missing, [], 'every acknowledged registration survived');
  for (const [s, token] of acknowledged.rotated) {
    const res = await post(server.url, '/refresh', { refresh_token: token });
    assert.equal(res.status, 200, `session ${s}: its last acknowledged refresh token still works`);
  }
  for (const access of acknowledged.revoked) {
    const res = await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${access}` } });
    assert.equal(res.status, 401, 'an acknowledged logout still holds');
  }
  t.diagnostic(`acknowledged before the crash: ${acknowledged.registered.length} registrations, ${acknowledged.rotated.size} rotated sessions, ${acknowledged.revoked.length} logouts`);
});
