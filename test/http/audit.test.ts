/**
 * The audit trail: one append-only row per security event (time, user, client IP, user
 * agent, non-secret detail), the `gatehouse audit` command that reads it, and a scan of the
 * trail and of every captured log line for anything secret.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AuditEntry } from '../../src/services/ports.js';
import { FakeClock, PASSWORD, buildTestApp, freshIp, login, openStoredJwk, register, sqlRows, type TestApp, type Tokens } from '../helpers/app.js';
import { linkToken, startSmtp, type TestSmtp } from '../helpers/smtp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

type Entry = AuditEntry & { id: number };
type Injected = Awaited<ReturnType<TestApp['app']['inject']>>;

let ipCounter = 0;
/** Addresses from 198.18.0.0/15, distinct from freshIp()'s, so an entry's IP is provably this request's. */
function clientIp(): string {
  ipCounter++;
  return `198.18.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const sidOf = (accessToken: string): string => JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()).sid as string;

interface Call {
  method?: 'GET' | 'POST' | 'DELETE';
  payload?: Record<string, unknown> | string;
  headers?: Record<string, string>;
  ip: string;
  ua?: string;
}

/** One request from a known client: its IP through inject's remoteAddress, its User-Agent header. */
function call(app: TestApp, url: string, { method = 'POST', payload, headers = {}, ip, ua = 'AuditTest/1.0' }: Call): Promise<Injected> {
  return app.app.inject({
    method,
    url,
    ...(payload === undefined ? {} : { payload }),
    headers: { 'user-agent': ua, ...headers },
    remoteAddress: ip,
  });
}

async function loginAs(app: TestApp, username: string, password: string, ip: string, ua = 'AuditTest/1.0'): Promise<Tokens> {
  const res = await call(app, '/login', { payload: { username, password }, ip, ua });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

function entries(app: TestApp, type: string, userId?: number): Promise<Entry[]> {
  return app.stores.audit.list({ type, userId, limit: 1000 });
}

/** The single entry of this type (for this user), asserting there is exactly one. */
async function only(app: TestApp, type: string, userId?: number): Promise<Entry> {
  const found = await entries(app, type, userId);
  assert.equal(found.length, 1, `expected one ${type} entry${userId === undefined ? '' : ` for user ${userId}`}, got ${JSON.stringify(found)}`);
  return found[0]!;
}

/** Who and when: a real Date inside the window of the request, the user, the IP and User-Agent sent. */
function assertWho(entry: Entry, expected: { userId: number | null; ip: string; ua: string | null; since: number }): void {
  assert.ok(entry.at instanceof Date, `${entry.type}: at is a Date`);
  assert.ok(!Number.isNaN(entry.at.getTime()), `${entry.type}: at is a valid Date`);
  assert.ok(entry.at.getTime() >= expected.since && entry.at.getTime() <= Date.now(), `${entry.type}: at ${entry.at.toISOString()} is during the request`);
  assert.equal(entry.userId, expected.userId, `${entry.type}: user`);
  assert.equal(entry.ip, expected.ip, `${entry.type}: ip`);
  assert.equal(entry.userAgent, expected.ua, `${entry.type}: user agent`);
}

async function withSmtp(t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}): Promise<{ app: TestApp; smtp: TestSmtp }> {
  const smtp = await startSmtp(t);
  const app = await buildTestApp(t, { SMTP_URL: smtp.url, PUBLIC_URL: 'https://auth.example.com', ...env });
  return { app, smtp };
}

// ---------------------------------------------------------------------------------------
// One entry per event
// ---------------------------------------------------------------------------------------

test('registered: user, time, IP and User-Agent of the registration', async (t) => {
  const app = await buildTestApp(t);
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/register', { payload: { username: 'reggie', email: 'reggie@example.com', password: PASSWORD }, ip, ua: 'Signup/3.1' });
  assert.equal(res.statusCode, 200, res.body);
  const entry = await only(app, 'registered');
  assertWho(entry, { userId: (await app.stores.users.findByLogin('reggie'))!.id, ip, ua: 'Signup/3.1', since });
  assert.equal(entry.detail, null);

  // A refused registration (taken name) records nothing.
  const dup = await call(app, '/register', { payload: { username: 'reggie', email: 'other@example.com', password: PASSWORD }, ip: clientIp() });
  assert.equal(dup.statusCode, 400);
  assert.equal((await entries(app, 'registered')).length, 1);
});

test('the entry time is the service clock\'s, to the millisecond', async (t) => {
  const clock = new FakeClock(Date.UTC(2031, 0, 2, 3, 4, 5, 678));
  const app = await buildTestApp(t, {}, { clock });
  const { id } = await register(app, { username: 'tick' });
  clock.advance(61_001);
  await loginAs(app, 'tick', PASSWORD, clientIp());
  assert.equal((await only(app, 'registered', id)).at.toISOString(), '2031-01-02T03:04:05.678Z');
  assert.equal((await only(app, 'login_succeeded', id)).at.toISOString(), '2031-01-02T03:05:06.679Z');
});

test('login_succeeded: with the client id; a long User-Agent is cut to 512 characters, a missing one is null', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'lena' });
  const ip = clientIp();
  const since = Date.now();
  await loginAs(app, 'lena', PASSWORD, ip, 'Browser/9');
  const entry = await only(app, 'login_succeeded', id);
  assertWho(entry, { userId: id, ip, ua: 'Browser/9', since });
  assert.deepEqual(entry.detail, { client_id: 'gatehouse', amr: 'pwd' });

  const long = `Long/1 ${'x'.repeat(600)}`;
  await loginAs(app, 'lena', PASSWORD, clientIp(), long);
  // inject always sends a User-Agent; a plain node:http request over a socket sends none.
  await app.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.app.server.address() as AddressInfo;
  const body = JSON.stringify({ username: 'lena', password: PASSWORD });
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/login', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => res.resume().on('end', () => resolve(res.statusCode)),
    );
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(status, 200);
  const [latest, withLong] = await entries(app, 'login_succeeded', id);
  assert.equal(withLong!.userAgent, long.slice(0, 512));
  assert.equal(latest!.ip, '127.0.0.1');
  assert.equal(latest!.userAgent, null);
});

test('login_failed: wrong password with the user and a reason; unknown user with no user; nothing of what was typed', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'fay' });
  const ip = clientIp();
  const since = Date.now();
  const wrong = await call(app, '/login', { payload: { username: 'fay', password: 'WrongGuess-42' }, ip, ua: 'Guesser/1' });
  assert.equal(wrong.statusCode, 401);
  const entry = await only(app, 'login_failed', id);
  assertWho(entry, { userId: id, ip, ua: 'Guesser/1', since });
  assert.deepEqual(entry.detail, { reason: 'wrong_password' });

  const ip2 = clientIp();
  const since2 = Date.now();
  const unknown = await call(app, '/login', { payload: { username: 'no-such-user', password: 'WrongGuess-43' }, ip: ip2, ua: 'Guesser/2' });
  assert.equal(unknown.statusCode, 401);
  const all = await entries(app, 'login_failed');
  assert.equal(all.length, 2);
  assertWho(all[0]!, { userId: null, ip: ip2, ua: 'Guesser/2', since: since2 });
  assert.deepEqual(all[0]!.detail, { reason: 'unknown_user' });
  assert.doesNotMatch(JSON.stringify(all), /WrongGuess|no-such-user/);
});

test('login_failed: an unverified address under REQUIRE_VERIFIED_EMAIL, after the right password', async (t) => {
  const { app } = await withSmtp(t, { REQUIRE_VERIFIED_EMAIL: 'true' });
  const { id } = await register(app, { username: 'uma' });
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/login', { payload: { username: 'uma', password: PASSWORD }, ip });
  assert.equal(res.statusCode, 403);
  const entry = await only(app, 'login_failed', id);
  assertWho(entry, { userId: id, ip, ua: 'AuditTest/1.0', since });
  assert.deepEqual(entry.detail, { reason: 'email_not_verified' });
  assert.equal((await entries(app, 'login_succeeded')).length, 0);
});

test('logout: the session that ended', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'leo' });
  const tokens = await login(app, 'leo');
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/logout', { headers: auth(tokens.access_token), ip, ua: 'Leaving/1' });
  assert.equal(res.statusCode, 200, res.body);
  const entry = await only(app, 'logout', id);
  assertWho(entry, { userId: id, ip, ua: 'Leaving/1', since });
  assert.deepEqual(entry.detail, { session_id: sidOf(tokens.access_token) });
});

test('refresh_reuse_detected: the replayed old token after the grace window; routine rotations stay out', async (t) => {
  const app = await buildTestApp(t, { REFRESH_REUSE_GRACE_SECONDS: '0' });
  const { id } = await register(app, { username: 'rita' });
  const first = await login(app, 'rita');
  const rotated = await call(app, '/refresh', { payload: { refresh_token: first.refresh_token }, ip: clientIp() });
  assert.equal(rotated.statusCode, 200, rotated.body);
  await new Promise((r) => setTimeout(r, 20));

  const ip = clientIp();
  const since = Date.now();
  const reuse = await call(app, '/refresh', { payload: { refresh_token: first.refresh_token }, ip, ua: 'Thief/0.1' });
  assert.equal(reuse.statusCode, 401);
  const entry = await only(app, 'refresh_reuse_detected', id);
  assertWho(entry, { userId: id, ip, ua: 'Thief/0.1', since });
  assert.deepEqual(entry.detail, { session_id: sidOf(first.access_token) });
  // The whole family is dead now; the refused refresh with the child is counted, not audited.
  assert.equal((await call(app, '/refresh', { payload: { refresh_token: rotated.json().refresh_token }, ip: clientIp() })).statusCode, 401);
  for (const type of ['refresh_rotated', 'refresh_replayed', 'refresh_refused']) {
    assert.equal((await entries(app, type)).length, 0, `${type} is not audited`);
  }
});

test('password_changed: by whom, from where', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'pat' });
  const tokens = await login(app, 'pat');
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/password/change', { headers: auth(tokens.access_token), payload: { current_password: PASSWORD, new_password: 'Another-Pass-77' }, ip, ua: 'Settings/2' });
  assert.equal(res.statusCode, 200, res.body);
  const entry = await only(app, 'password_changed', id);
  assertWho(entry, { userId: id, ip, ua: 'Settings/2', since });
  assert.equal(entry.detail, null);
});

test('password_reset_requested and password_reset: forgot, the mailed link, the reset', async (t) => {
  const { app, smtp } = await withSmtp(t);
  const { id } = await register(app, { username: 'rosa', email: 'rosa@example.com' });
  await smtp.next('rosa@example.com'); // the verification mail

  const forgotIp = clientIp();
  const forgotSince = Date.now();
  const forgot = await call(app, '/password/forgot', { payload: { email: 'rosa@example.com' }, ip: forgotIp, ua: 'Forgetful/1' });
  assert.equal(forgot.statusCode, 202);
  await app.emailFlows!.drain(); // recorded after the answer, with the rest of the work
  const requested = await only(app, 'password_reset_requested', id);
  assertWho(requested, { userId: id, ip: forgotIp, ua: 'Forgetful/1', since: forgotSince });
  assert.deepEqual(requested.detail, { known: true });

  const { token } = linkToken(await smtp.next('rosa@example.com'), '/password/reset');
  const ip = clientIp();
  const since = Date.now();
  const reset = await call(app, '/password/reset', { payload: { token, new_password: 'Reset-Pass-88' }, ip, ua: 'Mailclient/5' });
  assert.equal(reset.statusCode, 200, reset.body);
  const entry = await only(app, 'password_reset', id);
  assertWho(entry, { userId: id, ip, ua: 'Mailclient/5', since });
  assert.equal(entry.detail, null);

  // A second use of the link fails and records no second reset.
  assert.equal((await call(app, '/password/reset', { payload: { token, new_password: 'Reset-Pass-99' }, ip: clientIp() })).statusCode, 400);
  assert.equal((await entries(app, 'password_reset')).length, 1);
});

test('password_reset_requested for an unknown address: known false, no user', async (t) => {
  const { app } = await withSmtp(t);
  await register(app, { username: 'ursula' });
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/password/forgot', { payload: { email: 'nobody-here@example.com' }, ip, ua: 'Prober/1' });
  assert.equal(res.statusCode, 202);
  await app.emailFlows!.drain(); // recorded after the answer, with the rest of the work
  const entry = await only(app, 'password_reset_requested');
  assertWho(entry, { userId: null, ip, ua: 'Prober/1', since });
  assert.deepEqual(entry.detail, { known: false });
  assert.doesNotMatch(JSON.stringify(entry), /nobody-here/, 'the address typed is not recorded');
});

test('email_verification_sent and email_verified: registration mails the link, POST /email/verify consumes it', async (t) => {
  const { app, smtp } = await withSmtp(t);
  const regIp = clientIp();
  const regSince = Date.now();
  const reg = await call(app, '/register', { payload: { username: 'vera', email: 'vera@example.com', password: PASSWORD }, ip: regIp, ua: 'Signup/1' });
  assert.equal(reg.statusCode, 200);
  const id = (await app.stores.users.findByLogin('vera'))!.id;
  assertWho(await only(app, 'email_verification_sent', id), { userId: id, ip: regIp, ua: 'Signup/1', since: regSince });

  const { token } = linkToken(await smtp.next('vera@example.com'), '/email/verify');
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/email/verify', { payload: { token }, ip, ua: 'Webmail/7' });
  assert.equal(res.statusCode, 200, res.body);
  const entry = await only(app, 'email_verified', id);
  assertWho(entry, { userId: id, ip, ua: 'Webmail/7', since });
  assert.equal(entry.detail, null);
});

test('account_deleted: DELETE /me with the password', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'dora' });
  const tokens = await login(app, 'dora');
  const wrong = await call(app, '/me', { method: 'DELETE', headers: auth(tokens.access_token), payload: { password: 'Not-Her-Pass1' }, ip: clientIp() });
  assert.equal(wrong.statusCode, 403);
  assert.equal((await entries(app, 'account_deleted')).length, 0);

  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/me', { method: 'DELETE', headers: auth(tokens.access_token), payload: { password: PASSWORD }, ip, ua: 'Goodbye/1' });
  assert.equal(res.statusCode, 204, res.body);
  const entry = await only(app, 'account_deleted', id);
  assertWho(entry, { userId: id, ip, ua: 'Goodbye/1', since });
});

test('lockout: the tenth failure across ten addresses locks the account, recorded once with that request\'s client', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'lou' });
  for (let i = 0; i < 9; i++) {
    const res = await call(app, '/login', { payload: { username: 'lou', password: `Wrong-${i}-pass` }, ip: clientIp() });
    assert.equal(res.statusCode, 401);
  }
  assert.equal((await entries(app, 'lockout')).length, 0, 'nine failures lock nothing');
  const ip = clientIp();
  const since = Date.now();
  const tenth = await call(app, '/login', { payload: { username: 'lou', password: 'Wrong-9-pass' }, ip, ua: 'Botnet/10' });
  assert.equal(tenth.statusCode, 401);
  const entry = await only(app, 'lockout', id);
  assertWho(entry, { userId: id, ip, ua: 'Botnet/10', since });
  assert.equal((await entries(app, 'login_failed', id)).length, 10);

  // Locked: the right password from a new address is refused, and no further entries appear.
  const locked = await call(app, '/login', { payload: { username: 'lou', password: PASSWORD }, ip: clientIp() });
  assert.equal(locked.statusCode, 429);
  assert.equal((await entries(app, 'lockout')).length, 1);
  assert.equal((await entries(app, 'login_succeeded')).length, 0);
});

test('logout_all: how many sessions ended', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'alma' });
  const a = await login(app, 'alma');
  await login(app, 'alma');
  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, '/logout/all', { headers: auth(a.access_token), ip, ua: 'Panic/1' });
  assert.equal(res.statusCode, 200, res.body);
  const entry = await only(app, 'logout_all', id);
  assertWho(entry, { userId: id, ip, ua: 'Panic/1', since });
  assert.deepEqual(entry.detail, { sessions: 2 });
});

test('session_revoked: the session id; a foreign or unknown id records nothing', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'sid' });
  await register(app, { username: 'other' });
  const mine = await login(app, 'sid');
  const second = await login(app, 'sid');
  const foreign = await login(app, 'other');
  const notMine = await call(app, `/sessions/${sidOf(foreign.access_token)}`, { method: 'DELETE', headers: auth(mine.access_token), ip: clientIp() });
  assert.equal(notMine.statusCode, 404);
  assert.equal((await entries(app, 'session_revoked')).length, 0);

  const ip = clientIp();
  const since = Date.now();
  const res = await call(app, `/sessions/${sidOf(second.access_token)}`, { method: 'DELETE', headers: auth(mine.access_token), ip, ua: 'Devices/1' });
  assert.equal(res.statusCode, 204, res.body);
  const entry = await only(app, 'session_revoked', id);
  assertWho(entry, { userId: id, ip, ua: 'Devices/1', since });
  assert.deepEqual(entry.detail, { session_id: sidOf(second.access_token) });
});

test('token_revoked (RFC 7009, default client): a refresh token ends its session, an access token only itself', async (t) => {
  const app = await buildTestApp(t);
  const { id } = await register(app, { username: 'tom' });
  const a = await login(app, 'tom');
  const b = await login(app, 'tom');

  const ip = clientIp();
  const since = Date.now();
  const byRefresh = await call(app, '/oauth/revoke', { payload: { token: a.refresh_token, client_id: 'gatehouse' }, ip, ua: 'OAuthLib/1' });
  assert.equal(byRefresh.statusCode, 200, byRefresh.body);
  const first = await only(app, 'token_revoked', id);
  assertWho(first, { userId: id, ip, ua: 'OAuthLib/1', since });
  assert.deepEqual(first.detail, { kind: 'refresh_token', client_id: 'gatehouse', session_id: sidOf(a.access_token) });

  const ip2 = clientIp();
  const since2 = Date.now();
  const byAccess = await call(app, '/oauth/revoke', { payload: { token: b.access_token, token_type_hint: 'access_token' }, ip: ip2, ua: 'OAuthLib/2' });
  assert.equal(byAccess.statusCode, 200, byAccess.body);
  const [latest] = await entries(app, 'token_revoked', id);
  assertWho(latest!, { userId: id, ip: ip2, ua: 'OAuthLib/2', since: since2 });
  assert.deepEqual(latest!.detail, { kind: 'access_token', client_id: 'gatehouse' });

  // Unknown tokens answer 200 and record nothing.
  assert.equal((await call(app, '/oauth/revoke', { payload: { token: 'ghr_not-ours' }, ip: clientIp() })).statusCode, 200);
  assert.equal((await entries(app, 'token_revoked')).length, 2);
});

// ---------------------------------------------------------------------------------------
// Nothing secret in the trail or the logs
// ---------------------------------------------------------------------------------------

/** Private JWK members (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

interface Leak {
  what: string;
  where: string;
}

/** Every secret or secret-derived value found in `texts`. */
function findLeaks(texts: Array<{ where: string; text: string }>, secrets: Map<string, string>): Leak[] {
  const leaks: Leak[] = [];
  const patterns: Array<[string, RegExp]> = [
    ['an argon2 hash', /\$argon2(id|i|d)\$/],
    ['a ghr_ refresh token', /ghr_/],
    ['a ghm_ email token', /ghm_/],
    ['a JWT', /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}/],
    ['a private JWK member', new RegExp(`"(${PRIVATE_JWK_MEMBERS.join('|')})"\\s*:\\s*"`)],
    ['a marked secret', /Zq9-SECRET/],
  ];
  for (const { where, text } of texts) {
    for (const [what, pattern] of patterns) if (pattern.test(text)) leaks.push({ what, where });
    for (const [value, what] of secrets) if (text.includes(value)) leaks.push({ what, where });
  }
  return leaks;
}

test('the leak finder finds what it looks for', () => {
  const secrets = new Map([['c2VjcmV0LWhhc2gtdmFsdWU', 'a stored token hash']]);
  const found = (text: string) => findLeaks([{ where: 'x', text }], secrets).map((l) => l.what);
  assert.deepEqual(found('{"msg":"request","url":"/email/verify?token=[redacted]"}'), []);
  assert.deepEqual(found('link https://a/email/verify?token=ghm_abc'), ['a ghm_ email token']);
  assert.deepEqual(found('hash $argon2id$v=19$m=1024'), ['an argon2 hash']);
  assert.deepEqual(found('{"kty":"OKP","d":"abc"}'), ['a private JWK member']);
  assert.deepEqual(found('x c2VjcmV0LWhhc2gtdmFsdWU y'), ['a stored token hash']);
  assert.deepEqual(found('Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.sig'), ['a JWT']);
});

test('no password, token, hash or private key in the audit trail or the logs, after every endpoint', async (t) => {
  const smtp = await startSmtp(t);
  const app = await buildTestApp(t, { SMTP_URL: smtp.url, PUBLIC_URL: 'https://auth.example.com', LOG_LEVEL: 'trace', REFRESH_REUSE_GRACE_SECONDS: '0', PASSWORD_MIN_LENGTH: '12' });
  const secrets = new Map<string, string>();
  const mark = (value: string, what: string) => {
    assert.ok(value.length >= 8, `${what} is long enough to search for`);
    secrets.set(value, what);
    return value;
  };
  const tokens = (pair: Tokens, what: string) => {
    mark(pair.access_token, `${what} access token`);
    mark(pair.refresh_token, `${what} refresh token`);
    // The signature alone, too: a log that printed a token's tail would show it.
    mark(pair.access_token.split('.')[2]!, `${what} access token signature`);
    return pair;
  };
  const ok = (res: Injected, status: number, what: string) => {
    assert.equal(res.statusCode, status, `${what}: ${res.body}`);
    return res;
  };
  const email = 'scanner@example.com';
  const P1 = mark('Zq9-SECRET-pw-first', 'the first password');
  const P2 = mark('Zq9-SECRET-pw-second', 'the changed password');
  const P3 = mark('Zq9-SECRET-pw-third', 'the reset password');
  const wrong = (n: number) => mark(`Zq9-SECRET-pw-wrong-${n}`, 'a wrong password');
  const ip = () => freshIp();

  // The stored secrets: hashes and seals as the database holds them, and the private keys.
  const snapshot = async () => {
    const columns: Array<[string, string]> = [
      ['SELECT password_hash AS v FROM users', 'a stored password hash'],
      ['SELECT refresh_hash AS v FROM sessions', 'a stored refresh-token hash'],
      ['SELECT previous_hash AS v FROM sessions', 'a stored previous refresh-token hash'],
      ['SELECT child_seal AS v FROM sessions', 'a stored child seal'],
      ['SELECT hash AS v FROM retired_refresh_tokens', 'a retired refresh-token hash'],
      ['SELECT hash AS v FROM email_tokens', 'a stored email-token hash'],
      ['SELECT secret_hash AS v FROM oauth_clients', 'a stored client-secret hash'],
    ];
    for (const [query, what] of columns) {
      for (const { v } of await sqlRows<{ v: string | null }>(app.dir, query)) if (v) mark(v, what);
    }
    for (const { kid, private_jwk } of await sqlRows<{ kid: string; private_jwk: string }>(app.dir, 'SELECT kid, private_jwk FROM signing_keys')) {
      // Sealed at rest: look for the members of the opened key.
      const jwk = openStoredJwk(app, kid, private_jwk) as Record<string, unknown>;
      let members = 0;
      for (const name of PRIVATE_JWK_MEMBERS) {
        if (typeof jwk[name] === 'string') {
          mark(jwk[name], `private JWK member "${name}"`);
          members++;
        }
      }
      assert.ok(members > 0, 'the signing key has private members to look for');
    }
  };

  // A confidential client, for the OAuth endpoints.
  const client = await app.clients.create({ id: 'scan-app', grantTypes: ['password', 'refresh_token'], confidential: true, now: new Date() });
  const clientSecret = mark(client.secret!, 'the client secret');
  const basic = { authorization: `Basic ${Buffer.from(`scan-app:${clientSecret}`).toString('base64')}` };
  const form = { 'content-type': 'application/x-www-form-urlencoded' };

  // Registration, refused and accepted.
  ok(await call(app, '/register', { payload: { username: 'scanner', email, password: P1, confirm_password: wrong(1) }, ip: ip() }), 400, 'mismatched confirmation');
  ok(await call(app, '/register', { payload: { username: 'scanner', email, password: 'Zq9-SECRET' }, ip: ip() }), 400, 'too short');
  ok(await call(app, '/register', { payload: { username: 'scanner', email, password: P1, confirm_password: P1 }, ip: ip() }), 200, 'register');
  const userId = (await app.stores.users.findByLogin('scanner'))!.id;
  ok(await call(app, '/register', { payload: { username: 'scanner', email, password: P1 }, ip: ip() }), 400, 'register again');

  // Email verification: the page (GET with the token in the URL), a bad token, the form POST.
  const verify = mark(linkToken(await smtp.next(email), '/email/verify').token, 'the email verification token');
  ok(await call(app, `/email/verify?token=${encodeURIComponent(verify)}`, { method: 'GET', ip: ip() }), 200, 'verification page');
  ok(await call(app, '/email/verify', { payload: { token: `${verify}x` }, ip: ip() }), 400, 'bad verification token');
  ok(await call(app, '/email/verify', { payload: `token=${encodeURIComponent(verify)}`, headers: form, ip: ip() }), 200, 'verify');

  // Logins: JSON, the OAuth2 password form, wrong passwords, a password typed into the username field.
  const a = tokens(ok(await call(app, '/login', { payload: { username: 'scanner', password: P1 }, ip: ip() }), 200, 'login').json(), 'login');
  const b = tokens(
    ok(await call(app, '/login', { payload: `grant_type=password&username=scanner&password=${encodeURIComponent(P1)}`, headers: form, ip: ip() }), 200, 'form login').json(),
    'form login',
  );
  ok(await call(app, '/login', { payload: { username: 'scanner', password: wrong(2) }, ip: ip() }), 401, 'wrong password');
  ok(await call(app, '/login', { payload: { username: mark('Zq9-SECRET-pw-in-the-username', 'a password typed as the username'), password: P1 }, ip: ip() }), 401, 'typo');
  ok(await call(app, `/login?password=${encodeURIComponent(wrong(3))}`, { payload: { username: 'scanner', password: wrong(4) }, ip: ip() }), 401, 'password in the query');

  // OAuth token endpoint: password grant (client_secret_post), refresh grant (client_secret_basic), a bad secret.
  const c = tokens(
    ok(
      await call(app, '/oauth/token', { payload: `grant_type=password&username=scanner&password=${encodeURIComponent(P1)}&client_id=scan-app&client_secret=${clientSecret}`, headers: form, ip: ip() }),
      200,
      'password grant',
    ).json(),
    'password grant',
  );
  const c2 = tokens(
    ok(await call(app, '/oauth/token', { payload: `grant_type=refresh_token&refresh_token=${encodeURIComponent(c.refresh_token)}`, headers: { ...form, ...basic }, ip: ip() }), 200, 'refresh grant').json(),
    'refresh grant',
  );
  const badSecret = mark(`${clientSecret.slice(0, 20)}-SECRET-wrong`, 'a wrong client secret');
  ok(await call(app, '/oauth/token', { payload: `grant_type=password&username=scanner&password=${encodeURIComponent(P1)}&client_id=scan-app&client_secret=${badSecret}`, headers: form, ip: ip() }), 401, 'bad client secret');

  // Introspection of both kinds, and of garbage.
  for (const token of [c2.access_token, c2.refresh_token, 'Zq9-SECRET-garbage-token']) {
    mark(token, 'an introspected token');
    ok(await call(app, '/oauth/introspect', { payload: `token=${encodeURIComponent(token)}`, headers: { ...form, ...basic }, ip: ip() }), 200, 'introspect');
  }

  // /refresh: body, the deprecated query parameter, an unknown token.
  const a2 = tokens(ok(await call(app, '/refresh', { payload: { refresh_token: a.refresh_token }, ip: ip() }), 200, 'refresh').json(), 'refresh');
  const a3 = tokens(ok(await call(app, `/refresh?refresh_token=${encodeURIComponent(a2.refresh_token)}`, { ip: ip() }), 200, 'query refresh').json(), 'query refresh');
  ok(await call(app, '/refresh', { payload: { refresh_token: mark('ghr_Zq9-SECRET-unknown-refresh', 'an unknown refresh token') }, ip: ip() }), 401, 'unknown refresh');
  await snapshot();

  // Reuse after the (zero) grace window ends the session.
  await new Promise((r) => setTimeout(r, 20));
  ok(await call(app, '/refresh', { payload: { refresh_token: a2.refresh_token }, ip: ip() }), 401, 'reuse');
  ok(await call(app, '/refresh', { payload: { refresh_token: a3.refresh_token }, ip: ip() }), 401, 'child after reuse');

  // Authenticated reads, with a valid, a revoked and a malformed bearer token.
  ok(await call(app, '/me', { method: 'GET', headers: auth(b.access_token), ip: ip() }), 200, 'me');
  ok(await call(app, '/sessions', { method: 'GET', headers: auth(b.access_token), ip: ip() }), 200, 'sessions');
  ok(await call(app, '/me', { method: 'GET', headers: auth(a3.access_token), ip: ip() }), 401, 'me with a revoked token');
  ok(await call(app, '/me', { method: 'GET', headers: auth(mark('Zq9-SECRET-not-a-jwt', 'a malformed bearer token')), ip: ip() }), 401, 'me with garbage');
  ok(await call(app, '/email/verify/request', { headers: auth(b.access_token), ip: ip() }), 202, 'verify request (already verified)');

  // Password change: wrong current password, then the right one.
  ok(await call(app, '/password/change', { headers: auth(b.access_token), payload: { current_password: wrong(5), new_password: P2 }, ip: ip() }), 403, 'change with a wrong password');
  ok(await call(app, '/password/change', { headers: auth(b.access_token), payload: { current_password: P1, new_password: P2 }, ip: ip() }), 200, 'change');
  await snapshot();

  // Sessions: log out with a second session's refresh token in the body, revoke one, revoke tokens (RFC 7009), log out of all.
  const d = tokens(await loginAs(app, 'scanner', P2, ip()), 'login d');
  const e = tokens(await loginAs(app, 'scanner', P2, ip()), 'login e');
  const f = tokens(await loginAs(app, 'scanner', P2, ip()), 'login f');
  const g = tokens(await loginAs(app, 'scanner', P2, ip()), 'login g');
  await snapshot();
  ok(await call(app, '/logout', { headers: auth(d.access_token), payload: { refresh_token: e.refresh_token }, ip: ip() }), 200, 'logout');
  ok(await call(app, `/sessions/${sidOf(f.access_token)}`, { method: 'DELETE', headers: auth(g.access_token), ip: ip() }), 204, 'revoke a session');
  ok(await call(app, '/oauth/revoke', { payload: { token: g.access_token, token_type_hint: 'access_token' }, ip: ip() }), 200, 'revoke an access token');
  ok(await call(app, '/oauth/revoke', { payload: `token=${encodeURIComponent(g.refresh_token)}`, headers: form, ip: ip() }), 200, 'revoke a refresh token');
  const h = tokens(await loginAs(app, 'scanner', P2, ip()), 'login h');
  ok(await call(app, '/logout/all', { headers: auth(h.access_token), ip: ip() }), 200, 'logout all');

  // Password reset: an unknown address, the real one, the page, a bad token, a weak password, the reset.
  ok(await call(app, '/password/forgot', { payload: { email: 'nobody@example.com' }, ip: ip() }), 202, 'forgot (unknown)');
  ok(await call(app, '/password/forgot', { payload: { email }, ip: ip() }), 202, 'forgot');
  const reset = mark(linkToken(await smtp.next(email), '/password/reset').token, 'the password reset token');
  await snapshot();
  ok(await call(app, `/password/reset?token=${encodeURIComponent(reset)}`, { method: 'GET', ip: ip() }), 200, 'reset page');
  ok(await call(app, '/password/reset', { payload: { token: `${reset}x`, new_password: P3 }, ip: ip() }), 400, 'bad reset token');
  ok(await call(app, '/password/reset', { payload: { token: reset, new_password: 'Zq9-SECRET' }, ip: ip() }), 400, 'weak new password');
  ok(await call(app, '/password/reset', { payload: `token=${encodeURIComponent(reset)}&new_password=${encodeURIComponent(P3)}`, headers: form, ip: ip() }), 200, 'reset');
  ok(await call(app, '/password/reset', { payload: { token: reset, new_password: P3 }, ip: ip() }), 400, 'reset again');

  // Verification requested by address (already verified: nothing to send), then the account goes (a wrong password first).
  ok(await call(app, '/email/verify/request', { payload: { email }, ip: ip() }), 202, 'verify request by address');
  const last = tokens(await loginAs(app, 'scanner', P3, ip()), 'last login');
  await snapshot();
  ok(await call(app, '/me', { method: 'DELETE', headers: auth(last.access_token), payload: { password: wrong(6) }, ip: ip() }), 403, 'delete with a wrong password');
  ok(await call(app, '/me', { method: 'DELETE', headers: auth(last.access_token), payload: { password: P3 }, ip: ip() }), 204, 'delete');
  await app.emailFlows!.drain();

  // Every audit row, every column, both as stored and as the store reads it; every log line.
  const rows = await sqlRows(app.dir, 'SELECT * FROM security_events ORDER BY id');
  const listed = await app.stores.audit.list({ limit: 10_000 });
  assert.equal(listed.length, rows.length);
  const types = new Set(listed.map((row) => row.type));
  for (const type of [
    'registered', 'email_verification_sent', 'email_verified', 'login_succeeded', 'login_failed', 'refresh_reuse_detected', 'password_changed',
    'logout', 'session_revoked', 'token_revoked', 'logout_all', 'password_reset_requested', 'password_reset', 'account_deleted',
  ]) {
    assert.ok(types.has(type as Entry['type']), `the scan covered a ${type} entry`);
  }
  assert.ok(listed.every((row) => row.userId === null || row.userId === userId));
  assert.ok(app.logs.length > 50, `log lines were captured (${app.logs.length})`);

  const texts = [
    ...rows.map((row, i) => ({ where: `security_events row ${i + 1}: ${JSON.stringify(row)}`, text: Object.values(row).map(String).join('\n') })),
    ...listed.map((row) => ({ where: `audit entry ${row.id} (${row.type})`, text: JSON.stringify(row) })),
    ...app.logs.map((line, i) => ({ where: `log line ${i + 1}: ${line.slice(0, 300)}`, text: line })),
  ];
  assert.ok(secrets.size > 40, `enough secrets to look for (${secrets.size})`);
  assert.deepEqual(findLeaks(texts, secrets), []);
  // The URLs that carried tokens were logged, masked (so the scan above saw them).
  assert.ok(app.logs.some((line) => line.includes('/email/verify?token=[redacted]')), 'the verification page request was logged, masked');
  assert.ok(app.logs.some((line) => line.includes('/refresh?refresh_token=[redacted]')), 'the deprecated query refresh was logged, masked');
});

// ---------------------------------------------------------------------------------------
// `gatehouse audit`
// ---------------------------------------------------------------------------------------

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(app: TestApp, args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'audit', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DATABASE_URL: app.env.DATABASE_URL!, ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface CliLine {
  id: number;
  at: string;
  type: string;
  userId: number | null;
  ip: string | null;
  userAgent: string | null;
  detail: Record<string, unknown> | null;
}

function jsonLines(result: CliResult): CliLine[] {
  assert.equal(result.code, 0, result.stderr);
  return result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as CliLine);
}

test('gatehouse audit: JSON lines newest first, --user and --type filter, --limit limits, bad arguments exit 2', async (t) => {
  // No verification mails: the trail holds exactly the events below.
  const app = await buildTestApp(t, { EMAIL_FLOWS: 'false' });
  const alice = await register(app, { username: 'alice' });
  const bob = await register(app, { username: 'bob' });
  const aliceIp = clientIp();
  await loginAs(app, 'alice', PASSWORD, aliceIp, 'Cli-Test/1');
  assert.equal((await call(app, '/login', { payload: { username: 'alice', password: 'Wrong-Pass-1' }, ip: clientIp() })).statusCode, 401);
  assert.equal((await call(app, '/login', { payload: { username: 'bob', password: 'Wrong-Pass-2' }, ip: clientIp() })).statusCode, 401);
  await loginAs(app, 'bob', PASSWORD, clientIp());
  const stored = await app.stores.audit.list({ limit: 100 });
  assert.equal(stored.length, 6);

  // Each run is a fresh process (seconds with tsx on a small machine): two at a time.
  const BAD = [['--limit', 'abc'], ['--user', 'alice']];
  const runs = [
    ['--json', '--limit', '100'],
    ['--json', '--user', String(alice.id)],
    ['--json', '--type', 'login_failed'],
    ['--user', String(alice.id), '--limit', '2'],
    ...BAD.map((bad) => ['--json', ...bad]),
  ];
  const results: CliResult[] = [];
  for (let i = 0; i < runs.length; i += 2) results.push(...(await Promise.all(runs.slice(i, i + 2).map((args) => cli(app, args)))));
  const [allRun, mineRun, failedRun, text, ...badRuns] = results;
  const all = jsonLines(allRun!);
  assert.deepEqual(
    all.map((e) => e.type),
    ['login_succeeded', 'login_failed', 'login_failed', 'login_succeeded', 'registered', 'registered'],
  );
  assert.deepEqual(all.map((e) => e.id), stored.map((e) => e.id), 'the same entries as the store, in its order');
  for (let i = 1; i < all.length; i++) {
    assert.ok(all[i - 1]!.id > all[i]!.id, 'newest first');
    assert.ok(Date.parse(all[i - 1]!.at) >= Date.parse(all[i]!.at), 'newest first by time too');
  }
  for (const line of all) {
    assert.deepEqual(Object.keys(line).sort(), ['at', 'detail', 'id', 'ip', 'type', 'userAgent', 'userId']);
    assert.match(line.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  const aliceLogin = all.find((e) => e.type === 'login_succeeded' && e.userId === alice.id)!;
  assert.equal(aliceLogin.ip, aliceIp);
  assert.equal(aliceLogin.userAgent, 'Cli-Test/1');
  assert.deepEqual(aliceLogin.detail, { client_id: 'gatehouse', amr: 'pwd' });
  assert.equal(aliceLogin.at, stored.find((e) => e.id === aliceLogin.id)!.at.toISOString());

  const mine = jsonLines(mineRun!);
  assert.deepEqual(mine.map((e) => e.type), ['login_failed', 'login_succeeded', 'registered']);
  assert.ok(mine.every((e) => e.userId === alice.id));

  const failed = jsonLines(failedRun!);
  assert.equal(failed.length, 2);
  assert.ok(failed.every((e) => e.type === 'login_failed'));
  assert.deepEqual(failed.map((e) => e.userId), [bob.id, alice.id]);

  // The human-readable form, with --limit: one line per entry, the newest two.
  assert.equal(text!.code, 0, text!.stderr);
  const lines = text!.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\S+Z\s+login_failed\s+user=\d+ ip=198\.18\.\d+\.\d+ \{"reason":"wrong_password"\}$/);
  assert.match(lines[1]!, /\slogin_succeeded\s+user=\d+ ip=198\.18\.\d+\.\d+ \{"client_id":"gatehouse","amr":"pwd"\}$/);
  assert.ok(lines.every((line) => line.includes(`user=${alice.id} `)));

  for (const [i, bad] of BAD.entries()) {
    const res = badRuns[i]!;
    assert.equal(res.code, 2, `${bad.join(' ')}: ${res.stderr}`);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /--limit takes 1-10000/);
  }
});

// ---------------------------------------------------------------------------------------
// Append-only
// ---------------------------------------------------------------------------------------

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
