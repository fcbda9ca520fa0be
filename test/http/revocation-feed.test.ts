/** GET /revocations/stream over real HTTP, to the letter of the contract's "Revocation feed". */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { FakeClock, PASSWORD, buildTestApp, freshIp, login, register, sqlRows, type TestApp } from '../helpers/app.js';

interface FeedEvent {
  id: string;
  event: string;
  data: { sid?: string; jti?: string; exp: number };
}

/** An SSE reader: collects events and comments from a live stream. */
class Stream {
  events: FeedEvent[] = [];
  comments: string[] = [];
  private readonly abort = new AbortController();
  private buffer = '';

  static async open(t: TestContext, url: string, headers: Record<string, string>): Promise<Stream> {
    const stream = new Stream();
    const res = await fetch(`${url}/revocations/stream`, { headers, signal: stream.abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    t.after(() => stream.abort.abort());
    void (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) stream.feed(decoder.decode(chunk, { stream: true }));
      } catch {
        // aborted
      }
    })();
    return stream;
  }

  private feed(text: string): void {
    this.buffer += text;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      if (block.startsWith(':')) {
        this.comments.push(block);
        continue;
      }
      const fields = Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      this.events.push({ id: fields.id!, event: fields.event!, data: JSON.parse(fields.data!) });
    }
  }

  async waitFor(count: number, what: string): Promise<FeedEvent[]> {
    for (let i = 0; i < 300 && this.events.length < count; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(this.events.length >= count, `${what}: ${this.events.length} of ${count} events: ${JSON.stringify(this.events)}`);
    return this.events.slice(0, count);
  }

  async caughtUp(): Promise<void> {
    for (let i = 0; i < 300 && this.comments.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(this.comments.length > 0, 'the backlog ends with a : ping comment');
  }
}

async function setup(t: TestContext, clock?: FakeClock): Promise<{ app: TestApp; url: string; basic: Record<string, string> }> {
  const app = await buildTestApp(t, { ACCESS_TOKEN_EXPIRE_MINUTES: '10', JWT_CLOCK_SKEW_SECONDS: '30', REFRESH_REUSE_GRACE_SECONDS: '0', RATE_LIMIT_LOGIN_PER_MINUTE: '100' }, clock ? { clock } : {});
  await register(app, { username: 'feed_user' });
  const { secret } = await app.clients.create({ id: 'orders-api', grantTypes: ['password'], confidential: true, now: new Date() });
  const url = await app.app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url, basic: { authorization: `Basic ${Buffer.from(`orders-api:${secret}`).toString('base64')}` } };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sessionOf = (token: string): string => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid;

test('only confidential clients: no credentials, a wrong secret or the public client are 401 with a Basic challenge', async (t) => {
  const { app, url } = await setup(t);
  await app.clients.create({ id: 'spa', grantTypes: ['password'], confidential: false, now: new Date() });
  for (const headers of [{} as Record<string, string>, { authorization: `Basic ${Buffer.from('orders-api:wrong').toString('base64')}` }, { authorization: `Basic ${Buffer.from('spa:').toString('base64')}` }, { authorization: 'Bearer x' }]) {
    const res = await fetch(`${url}/revocations/stream`, { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="gatehouse"');
    assert.equal(((await res.json()) as { code: string }).code, 'invalid_client');
  }
});

test('on connect: every revocation still relevant, then a ping; live events from logout, logout-all, revoke, password change, reuse, account deletion', async (t) => {
  const { app, url, basic } = await setup(t);
  const before = await login(app, 'feed_user');
  const logout = await app.app.inject({ method: 'POST', url: '/logout', headers: bearer(before.access_token), payload: {} });
  assert.equal(logout.statusCode, 200);

  const stream = await Stream.open(t, url, basic);
  const [first] = await stream.waitFor(1, 'backlog');
  await stream.caughtUp();
  assert.equal(first!.event, 'revoked');
  assert.match(first!.id, /^\d+$/);
  assert.deepEqual(Object.keys(first!.data).sort(), ['exp', 'sid']);
  assert.equal(first!.data.sid, sessionOf(before.access_token));
  const now = Math.floor(Date.now() / 1000);
  // exp: when the last access token of the session expires (10 min + 30 s skew).
  assert.ok(first!.data.exp >= now + 600 && first!.data.exp <= now + 640, `exp ${first!.data.exp - now} s ahead`);

  // One access token revoked by its jti (RFC 7009).
  const a = await login(app, 'feed_user');
  assert.equal((await app.app.inject({ method: 'POST', url: '/oauth/revoke', payload: { token: a.access_token } })).statusCode, 200);
  const [, jtiEvent] = await stream.waitFor(2, 'jti revocation');
  const claims = JSON.parse(Buffer.from(a.access_token.split('.')[1]!, 'base64url').toString());
  // Kept until exp plus the 30 s clock skew, as long as a verifier may still accept it.
  assert.deepEqual(jtiEvent!.data, { jti: claims.jti, exp: claims.exp + 30 });

  // Password change ends every other session.
  const b = await login(app, 'feed_user');
  const change = await app.app.inject({ method: 'POST', url: '/password/change', headers: bearer(b.access_token), payload: { current_password: PASSWORD, new_password: 'NewPassword9x' } });
  assert.equal(change.statusCode, 200, change.body);
  const afterChange = await stream.waitFor(3, 'password change');
  assert.equal(afterChange[2]!.data.sid, sessionOf(a.access_token));

  // Refresh-token reuse (grace window 0 here) revokes the session.
  const c = await login(app, 'feed_user', 'NewPassword9x');
  const refreshWith = (token: string) => app.app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: token }, remoteAddress: freshIp() });
  assert.equal((await refreshWith(c.refresh_token)).statusCode, 200);
  assert.equal((await refreshWith(c.refresh_token)).statusCode, 401);
  const afterReuse = await stream.waitFor(4, 'reuse detection');
  assert.equal(afterReuse[3]!.data.sid, sessionOf(c.access_token));

  // An administrator's revocation (the store's own entry point).
  const d = await login(app, 'feed_user', 'NewPassword9x');
  await app.stores.sessions.revoke(sessionOf(d.access_token), new Date(), 'admin');
  const afterAdmin = await stream.waitFor(5, 'admin revocation');
  assert.equal(afterAdmin[4]!.data.sid, sessionOf(d.access_token));

  // Logout-all: every live session (b's and e's).
  const e = await login(app, 'feed_user', 'NewPassword9x');
  assert.equal((await app.app.inject({ method: 'POST', url: '/logout/all', headers: bearer(e.access_token), payload: {} })).statusCode, 200);
  const afterAll = await stream.waitFor(7, 'logout-all');
  assert.deepEqual(new Set(afterAll.slice(5).map((ev) => ev.data.sid)), new Set([sessionOf(b.access_token), sessionOf(e.access_token)]));

  // Account deletion ends the sessions that are left.
  const f = await login(app, 'feed_user', 'NewPassword9x');
  const deleted = await app.app.inject({ method: 'DELETE', url: '/me', headers: bearer(f.access_token), payload: { password: 'NewPassword9x' } });
  assert.equal(deleted.statusCode, 204, deleted.body);
  const afterDelete = await stream.waitFor(8, 'account deletion');
  assert.equal(afterDelete[7]!.data.sid, sessionOf(f.access_token));

  // Cursors increase.
  const ids = stream.events.map((ev) => Number(ev.id));
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
  assert.equal(new Set(ids).size, ids.length);
  // Every one of these paths stored when its record stops mattering (none left to today's settings).
  assert.deepEqual(await sqlRows(app.dir, 'SELECT id FROM revocation_events WHERE expires_at IS NULL'), []);
});

test('Last-Event-ID resumes after that cursor; a cursor from elsewhere starts from the relevant backlog', async (t) => {
  const { app, url, basic } = await setup(t);
  const tokens = [await login(app, 'feed_user'), await login(app, 'feed_user'), await login(app, 'feed_user')];
  for (const tk of tokens) await app.app.inject({ method: 'POST', url: '/logout', headers: bearer(tk.access_token), payload: {} });
  const all = await (await Stream.open(t, url, basic)).waitFor(3, 'backlog');
  const resumed = await Stream.open(t, url, { ...basic, 'last-event-id': all[0]!.id });
  await resumed.caughtUp();
  assert.deepEqual(resumed.events.map((e) => e.id), [all[1]!.id, all[2]!.id]);
  const foreign = await Stream.open(t, url, { ...basic, 'last-event-id': 'not-ours' });
  await foreign.caughtUp();
  assert.equal(foreign.events.length, 3);
});

test('after a restart with a shorter ACCESS_TOKEN_EXPIRE_MINUTES, a session revoked before it keeps the exp of the tokens it had', async (t) => {
  const clock = new FakeClock();
  const long = await buildTestApp(t, { ACCESS_TOKEN_EXPIRE_MINUTES: '60', JWT_CLOCK_SKEW_SECONDS: '30' }, { clock });
  await register(long, { username: 'feed_user' });
  const { secret } = await long.clients.create({ id: 'orders-api', grantTypes: ['password'], confidential: true, now: clock.now() });
  const tokens = await login(long, 'feed_user');
  const revokedAtMs = clock.now().getTime();
  assert.equal((await long.app.inject({ method: 'POST', url: '/logout', headers: bearer(tokens.access_token), payload: {} })).statusCode, 200);
  await long.app.close();

  // Twenty minutes on, under a 10-minute lifetime: the revoked session's access token still
  // has forty minutes to run, so a verifier that connects now must hear of it, and keep it.
  clock.advance(20 * 60_000);
  const short = await buildTestApp(t, { ACCESS_TOKEN_EXPIRE_MINUTES: '10', JWT_CLOCK_SKEW_SECONDS: '30' }, { clock, dir: long.dir });
  const url = await short.app.listen({ host: '127.0.0.1', port: 0 });
  const stream = await Stream.open(t, url, { authorization: `Basic ${Buffer.from(`orders-api:${secret}`).toString('base64')}` });
  await stream.caughtUp();
  assert.deepEqual(
    stream.events.map((e) => e.data),
    [{ sid: sessionOf(tokens.access_token), exp: Math.ceil((revokedAtMs + (3600 + 30) * 1000) / 1000) }],
    'sent on connect, with the exp of the lifetime the session was revoked under',
  );
  assert.ok(JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()).exp <= Math.ceil(revokedAtMs / 1000) + 3600, 'the token it covers');
  assert.equal(await short.revocationFeed.prune(), 0, 'not pruned while the token lives');
  clock.advance(41 * 60_000);
  assert.equal(await short.revocationFeed.prune(), 1, 'pruned once it has expired');
});

test('revocations whose tokens have all expired are not sent on connect', async (t) => {
  const clock = new FakeClock();
  const { app, url, basic } = await setup(t, clock);
  const old = await login(app, 'feed_user');
  await app.app.inject({ method: 'POST', url: '/logout', headers: bearer(old.access_token), payload: {} });
  clock.advance((600 + 30 + 1) * 1000);
  const fresh = await login(app, 'feed_user');
  await app.app.inject({ method: 'POST', url: '/logout', headers: bearer(fresh.access_token), payload: {} });
  const stream = await Stream.open(t, url, basic);
  await stream.caughtUp();
  assert.deepEqual(stream.events.map((e) => e.data.sid), [sessionOf(fresh.access_token)]);
  // Pruning drops the expired record for good.
  assert.equal(await app.revocationFeed.prune(), 1);
});
