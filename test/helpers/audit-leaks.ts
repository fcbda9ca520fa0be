/**
 * The leak scan of test/http/audit/leaks-*.test.ts: every secret a test sends or the server
 * stores is marked; at the end every audit row (as stored and as read) and every captured
 * log line is searched for the marked values and for anything shaped like a secret.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { buildTestApp, freshIp, openStoredJwk, sqlRows, type TestApp, type Tokens } from './app.js';
import { call, type Entry, type Injected } from './audit.js';
import { linkToken, startSmtp, type TestSmtp } from './smtp.js';

/** Private JWK members (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037). */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export interface Leak {
  what: string;
  where: string;
}

/** Every secret or secret-derived value found in `texts`. */
export function findLeaks(texts: Array<{ where: string; text: string }>, secrets: Map<string, string>): Leak[] {
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

export const EMAIL = 'scanner@example.com';
export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

export interface Scan {
  app: TestApp;
  smtp: TestSmtp;
  secrets: Map<string, string>;
  /** Remembers a secret to look for; returns it. */
  mark(value: string, what: string): string;
  /** Marks both tokens of a pair and the access token's signature. */
  tokens(pair: Tokens, what: string): Tokens;
  /** Asserts the status; returns the response. */
  ok(res: Injected, status: number, what: string): Injected;
  /** A fresh client address for each request. */
  ip(): string;
  /** The passwords of the flow (marked), and a marked wrong one. */
  P1: string;
  P2: string;
  P3: string;
  wrong(n: number): string;
  /** Marks the stored secrets: hashes and seals as the database holds them, and the private keys. */
  snapshot(): Promise<void>;
}

/** An app that logs everything (LOG_LEVEL=trace) with a test SMTP server, and the scan's bookkeeping. */
export async function startScan(t: TestContext): Promise<Scan> {
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
  const snapshot = async () => {
    const columns: Array<[string, string]> = [
      ['SELECT password_hash AS v FROM users', 'a stored password hash'],
      ['SELECT refresh_hash AS v FROM sessions', 'a stored refresh-token hash'],
      ['SELECT previous_hash AS v FROM sessions', 'a stored previous refresh-token hash'],
      ['SELECT child_seal AS v FROM sessions', 'a stored child seal'],
      ['SELECT hash AS v FROM refresh_token_hashes', 'a refresh-token hash (lookup)'],
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
  return {
    app,
    smtp,
    secrets,
    mark,
    tokens,
    ok,
    ip: () => freshIp(),
    P1: mark('Zq9-SECRET-pw-first', 'the first password'),
    P2: mark('Zq9-SECRET-pw-second', 'the changed password'),
    P3: mark('Zq9-SECRET-pw-third', 'the reset password'),
    wrong: (n: number) => mark(`Zq9-SECRET-pw-wrong-${n}`, 'a wrong password'),
    snapshot,
  };
}

/** The account every scan works on: registered with P1 and its address verified, both through the endpoints. Returns its id. */
export async function scanAccount(s: Scan): Promise<number> {
  const { app, ok, ip } = s;
  ok(await call(app, '/register', { payload: { username: 'scanner', email: EMAIL, password: s.P1, confirm_password: s.P1 }, ip: ip() }), 200, 'register');
  const verify = s.mark(linkToken(await s.smtp.next(EMAIL), '/email/verify').token, 'the email verification token');
  ok(await call(app, '/email/verify', { payload: `token=${encodeURIComponent(verify)}`, headers: FORM, ip: ip() }), 200, 'verify');
  return (await app.stores.users.findByLogin('scanner'))!.id;
}

/**
 * The scan itself, at the end of each test: every audit row, every column, both as stored and
 * as the store reads it, and every log line; `types` are the entries the test must have made.
 */
export async function assertNoLeaks(s: Scan, { userId, types, minSecrets, minLogLines }: { userId: number; types: Array<Entry['type']>; minSecrets: number; minLogLines: number }): Promise<void> {
  const { app, secrets } = s;
  await app.emailFlows!.drain();
  await s.snapshot();
  const rows = await sqlRows(app.dir, 'SELECT * FROM security_events ORDER BY id');
  const listed = await app.stores.audit.list({ limit: 10_000 });
  assert.equal(listed.length, rows.length);
  const seen = new Set(listed.map((row) => row.type));
  for (const type of types) assert.ok(seen.has(type), `the scan covered a ${type} entry`);
  assert.ok(listed.every((row) => row.userId === null || row.userId === userId));
  assert.ok(app.logs.length > minLogLines, `log lines were captured (${app.logs.length})`);

  const texts = [
    ...rows.map((row, i) => ({ where: `security_events row ${i + 1}: ${JSON.stringify(row)}`, text: Object.values(row).map(String).join('\n') })),
    ...listed.map((row) => ({ where: `audit entry ${row.id} (${row.type})`, text: JSON.stringify(row) })),
    ...app.logs.map((line, i) => ({ where: `log line ${i + 1}: ${line.slice(0, 300)}`, text: line })),
  ];
  assert.ok(secrets.size > minSecrets, `enough secrets to look for (${secrets.size})`);
  assert.deepEqual(findLeaks(texts, secrets), []);
}
