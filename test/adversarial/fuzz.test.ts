/**
 * Property-based input testing (fast-check) over every endpoint that takes input: random
 * JSON, random forms, wrong types, huge and empty values, hostile unicode, duplicate and
 * prototype-polluting keys. Invariants: a 2xx or a 4xx problem (never 5xx), the process
 * keeps serving, a 4xx writes nothing, Object.prototype is untouched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PASSWORD, buildTestApp, login, register, sqlReader, type TestApp } from '../helpers/app.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

const nasty = fc.constantFrom(
  '', ' ', '\u0000', 'a\u0000b', '\u202Eevil', '\uD800', '\uDFFF', 'ａｄｍｉｎ', 'Ａlice', 'ﬁ', '\u200B', '\uFEFF',
  '🦄'.repeat(300), 'x'.repeat(5000), '../../etc/passwd', "' OR 1=1 --", '<script>alert(1)</script>', '${7*7}', '%00', '\r\n\r\nHTTP/1.1 200',
);
const str = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), nasty);
const value: fc.Arbitrary<unknown> = fc.oneof(str, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(str, { maxLength: 3 }), fc.dictionary(str, str, { maxKeys: 3 }));
const FIELDS = ['username', 'email', 'password', 'confirm_password', 'refresh_token', 'token', 'new_password', 'current_password', 'grant_type', 'client_id', 'client_secret', 'token_type_hint', 'scope'];
const key = fc.oneof(fc.constantFrom(...FIELDS, '__proto__', 'constructor', 'prototype', 'is_admin'), str);
const body = fc.dictionary(key, value, { maxKeys: 8 });

/** JSON text with duplicate keys and prototype keys, which JSON.stringify cannot produce. */
const rawJson = fc
  .tuple(fc.array(fc.tuple(key, value), { maxLength: 6 }), fc.boolean())
  .map(([pairs, dup]) => {
    const members = pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`);
    if (dup && pairs[0]) members.push(members[0]!);
    return `{${members.join(',')}}`;
  });

// URLSearchParams encodes what encodeURIComponent refuses (lone surrogates); raw junk too.
const form = fc.oneof(
  fc.array(fc.tuple(key, str), { maxLength: 8 }).map((pairs) => new URLSearchParams(pairs).toString()),
  fc.constantFrom('%', '%zz', 'a=%E0%A4%A', '=&=&=', 'username=a&username=b&password=x', '__proto__[polluted]=1', 'constructor[prototype][polluted]=1'),
  fc.string({ maxLength: 120 }),
);

const ROUTES: Array<{ method: 'POST' | 'DELETE'; url: string; auth?: boolean }> = [
  { method: 'POST', url: '/register' },
  { method: 'POST', url: '/login' },
  { method: 'POST', url: '/refresh' },
  { method: 'POST', url: '/logout', auth: true },
  { method: 'POST', url: '/oauth/token' },
  { method: 'POST', url: '/oauth/revoke' },
  { method: 'POST', url: '/oauth/introspect' },
  { method: 'POST', url: '/password/change', auth: true },
  { method: 'POST', url: '/password/forgot' },
  { method: 'POST', url: '/password/reset' },
  { method: 'POST', url: '/email/verify' },
  { method: 'POST', url: '/email/verify/request' },
  { method: 'DELETE', url: '/me', auth: true },
];

async function fuzzApp(t: Parameters<typeof buildTestApp>[0]) {
  const app = await buildTestApp(t, {
    RATE_LIMIT_LOGIN_PER_MINUTE: '1000000',
    RATE_LIMIT_REGISTER_PER_HOUR: '1000000',
    RATE_LIMIT_REFRESH_PER_MINUTE: '1000000',
    RATE_LIMIT_FORGOT_PER_HOUR: '1000000',
    LOCKOUT_ACCOUNT_FAILURES: '1000000',
    LOCKOUT_ACCOUNT_IP_FAILURES: '1000000',
  });
  await register(app, { username: 'fuzzer' });
  return app;
}

type Counter = () => Promise<string>;

/** One query for every table a request could write to. */
async function counter(t: Parameters<typeof buildTestApp>[0], app: TestApp): Promise<Counter> {
  const read = await sqlReader(t, app.dir);
  const tables = ['users', 'sessions', 'refresh_token_hashes', 'revoked_tokens', 'email_tokens', 'oauth_clients'];
  return async () => JSON.stringify(await read(`SELECT ${tables.map((x) => `(SELECT count(*) FROM ${x}) AS ${x}`).join(', ')}`));
}

let snapshot = '';

async function check(app: TestApp, count: Counter, route: (typeof ROUTES)[number], contentType: string, payload: string, token: string) {
  const res = await app.app.inject({
    method: route.method,
    url: route.url,
    headers: { 'content-type': contentType, ...(route.auth ? { authorization: `Bearer ${token}` } : {}) },
    payload,
  });
  assert.ok(res.statusCode < 500, `${route.url} ${payload.slice(0, 200)} → ${res.statusCode} ${res.body}`);
  assert.doesNotMatch(res.body, /at .+\.(ts|js):\d+/, 'no stack trace');
  if (res.statusCode >= 400) {
    const type = String(res.headers['content-type']);
    assert.ok(route.url.startsWith('/oauth/') ? type.startsWith('application/json') : type.startsWith('application/problem+json'), `${route.url}: ${type}`);
    assert.equal(await count(), snapshot, `${route.url}: a ${res.statusCode} wrote nothing`);
  } else {
    snapshot = await count();
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(Object.prototype), []);
}

for (const route of ROUTES) {
  test(`fuzz ${route.method} ${route.url}: JSON, raw JSON and forms`, { timeout: 120_000 }, async (t) => {
    const app = await fuzzApp(t);
    const { access_token: token } = await login(app, 'fuzzer', PASSWORD);
    const count = await counter(t, app);
    snapshot = await count();
    await fc.assert(fc.asyncProperty(body, (b) => check(app, count, route, 'application/json', JSON.stringify(b), token)), { numRuns: RUNS });
    await fc.assert(fc.asyncProperty(rawJson, (raw) => check(app, count, route, 'application/json', raw, token)), { numRuns: RUNS });
    await fc.assert(fc.asyncProperty(form, (f) => check(app, count, route, 'application/x-www-form-urlencoded', f, token)), { numRuns: RUNS });
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 200 }), (junk) => check(app, count, route, 'application/json', junk, token)), { numRuns: RUNS / 2 });
    // Still serving.
    assert.equal((await app.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });
}
