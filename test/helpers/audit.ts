/**
 * Shared by the audit-trail tests (test/http/audit/*.test.ts): requests from a known
 * client (IP and User-Agent), reading the trail, the "who and when" check of an entry, and
 * an app with a test SMTP server.
 */
import assert from 'node:assert/strict';
import type { AuditEntry } from '../../src/services/ports.js';
import { buildTestApp, type TestApp, type Tokens } from './app.js';
import { startSmtp, type TestSmtp } from './smtp.js';

export type Entry = AuditEntry & { id: number };
export type Injected = Awaited<ReturnType<TestApp['app']['inject']>>;

let ipCounter = 0;
/** Addresses from 198.18.0.0/15, distinct from freshIp()'s, so an entry's IP is provably this request's. */
export function clientIp(): string {
  ipCounter++;
  return `198.18.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

export const auth = (token: string) => ({ authorization: `Bearer ${token}` });
export const sidOf = (accessToken: string): string => JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()).sid as string;

export interface Call {
  method?: 'GET' | 'POST' | 'DELETE';
  payload?: Record<string, unknown> | string;
  headers?: Record<string, string>;
  ip: string;
  ua?: string;
}

/** One request from a known client: its IP through inject's remoteAddress, its User-Agent header. */
export function call(app: TestApp, url: string, { method = 'POST', payload, headers = {}, ip, ua = 'AuditTest/1.0' }: Call): Promise<Injected> {
  return app.app.inject({
    method,
    url,
    ...(payload === undefined ? {} : { payload }),
    headers: { 'user-agent': ua, ...headers },
    remoteAddress: ip,
  });
}

export async function loginAs(app: TestApp, username: string, password: string, ip: string, ua = 'AuditTest/1.0'): Promise<Tokens> {
  const res = await call(app, '/login', { payload: { username, password }, ip, ua });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

export function entries(app: TestApp, type: string, userId?: number): Promise<Entry[]> {
  return app.stores.audit.list({ type, userId, limit: 1000 });
}

/** The single entry of this type (for this user), asserting there is exactly one. */
export async function only(app: TestApp, type: string, userId?: number): Promise<Entry> {
  const found = await entries(app, type, userId);
  assert.equal(found.length, 1, `expected one ${type} entry${userId === undefined ? '' : ` for user ${userId}`}, got ${JSON.stringify(found)}`);
  return found[0]!;
}

/** Who and when: a real Date inside the window of the request, the user, the IP and User-Agent sent. */
export function assertWho(entry: Entry, expected: { userId: number | null; ip: string; ua: string | null; since: number }): void {
  assert.ok(entry.at instanceof Date, `${entry.type}: at is a Date`);
  assert.ok(!Number.isNaN(entry.at.getTime()), `${entry.type}: at is a valid Date`);
  assert.ok(entry.at.getTime() >= expected.since && entry.at.getTime() <= Date.now(), `${entry.type}: at ${entry.at.toISOString()} is during the request`);
  assert.equal(entry.userId, expected.userId, `${entry.type}: user`);
  assert.equal(entry.ip, expected.ip, `${entry.type}: ip`);
  assert.equal(entry.userAgent, expected.ua, `${entry.type}: user agent`);
}

export async function withSmtp(t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}): Promise<{ app: TestApp; smtp: TestSmtp }> {
  const smtp = await startSmtp(t);
  const app = await buildTestApp(t, { SMTP_URL: smtp.url, PUBLIC_URL: 'https://auth.example.com', ...env });
  return { app, smtp };
}
