/**
 * buildTestApp(t, env): the real app on a real SQLite file in a fresh temp dir, closed and
 * removed after the test. Argon2 runs with small parameters here (set once for the run),
 * the way supabase/auth lowers its hash cost in tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { buildGatehouse, type Gatehouse } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import type { Clock } from '../../src/services/ports.js';
import type { JWK } from 'jose';
import { isSealed, keyFileKek, openJwk, parseKek } from '../../src/crypto/key-encryption.js';

export const FAST_HASH_ENV = { ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' };

/** A key-encryption key for test servers (TOTP seeds are sealed under it); never a real one. */
export const TEST_KEK_ENV = { KEY_ENCRYPTION_KEY: '9f'.repeat(32) };

export const PASSWORD = 'CorrectHorse9';

export class FakeClock implements Clock {
  constructor(private current = Date.now()) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

export interface TestApp extends Gatehouse {
  dir: string;
  /** The SQLite file (meaningful only when the suite runs on SQLite). */
  dbFile: string;
  logs: string[];
  env: Record<string, string>;
}

/** The suite runs on SQLite unless TEST_DATABASE=postgres (scripts/test.mjs runs both). */
export const DIALECT: 'sqlite' | 'postgres' = process.env.TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite';
export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One database per temp dir: a SQLite file in it, or a PostgreSQL schema named after it. */
export function databaseUrlFor(dir: string): string {
  if (DIALECT === 'sqlite') return `file:${path.join(dir, 'gatehouse.sqlite')}`;
  return `${TEST_POSTGRES_URL}?schema=${schemaFor(dir)}`;
}

function schemaFor(dir: string): string {
  return `gh_${path.basename(dir).replace(/[^a-z0-9]/gi, '_').toLowerCase()}`;
}

/** Runs a read-only SQL query against the test app's database, whichever dialect it is. */
export async function sqlRows<T = Record<string, unknown>>(dir: string, query: string): Promise<T[]> {
  if (DIALECT === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path.join(dir, 'gatehouse.sqlite'), { readonly: true });
    try {
      return db.prepare(query).all() as T[];
    } finally {
      db.close();
    }
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, options: `-c search_path=${schemaFor(dir)}` });
  await client.connect();
  try {
    return (await client.query(query)).rows as T[];
  } finally {
    await client.end();
  }
}

export async function countRows(dir: string, table: string): Promise<number> {
  const [row] = await sqlRows<{ n: number | string }>(dir, `SELECT count(*) AS n FROM ${table}`);
  return Number(row!.n);
}

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-test-'));
  t.after(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (DIALECT === 'postgres') await dropSchema(schemaFor(dir));
  });
  return dir;
}

async function dropSchema(schema: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

export async function buildTestApp(
  t: TestContext,
  env: Record<string, string> = {},
  options: { clock?: Clock; dir?: string } = {},
): Promise<TestApp> {
  const dir = options.dir ?? tempDir(t);
  const dbFile = path.join(dir, 'gatehouse.sqlite');
  const fullEnv = { DATABASE_URL: databaseUrlFor(dir), LOG_LEVEL: 'info', ...FAST_HASH_ENV, ...TEST_KEK_ENV, ...env };
  const config = loadConfig(fullEnv, dir);
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const gh = await buildGatehouse(config, {
    ...(options.clock ? { clock: options.clock } : {}),
    logStream,
  });
  t.after(() => gh.app.close());
  return { ...gh, dir, dbFile, logs, env: fullEnv };
}

export async function register(
  app: TestApp,
  user: { username: string; email?: string; password?: string },
): Promise<{ id: number }> {
  const res = await app.app.inject({
    method: 'POST',
    url: '/register',
    payload: { email: `${user.username.toLowerCase()}@example.com`, password: PASSWORD, ...user },
  });
  if (res.statusCode !== 200) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  // The answer is only the original's message; the id comes from the store.
  const created = await app.stores.users.findByLogin(user.username.normalize('NFKC').toLowerCase());
  if (!created) throw new Error(`registered ${user.username} but cannot find it`);
  return { id: created.id };
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

let ipCounter = 0;
/** A fresh client address per call, so per-IP login limits stay out of unrelated tests. */
export function freshIp(): string {
  ipCounter++;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

export async function login(app: TestApp, username: string, password = PASSWORD): Promise<Tokens> {
  const res = await app.app.inject({
    method: 'POST',
    url: '/login',
    payload: { username, password },
    remoteAddress: freshIp(),
  });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  return res.json();
}

export function me(app: TestApp, accessToken: string) {
  return app.app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${accessToken}` } });
}

export function refresh(app: TestApp, refreshToken: string) {
  return app.app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: refreshToken }, remoteAddress: freshIp() });
}

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** False (run) when Redis is there; otherwise the reason the runner prints for skipping. */
export const redisMissing: string | false =
  process.env.TEST_REDIS_AVAILABLE === '0' ? `Redis not reachable at ${TEST_REDIS_URL}` : false;

let redisRun = 0;
/** REDIS_URL plus a key prefix of its own, so concurrent tests and runs never share counters. */
export function redisEnv(): Record<string, string> {
  redisRun++;
  return { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: `ghtest:${process.pid}:${Date.now()}:${redisRun}:` };
}

/** A read-only connection kept open for many queries (sqlRows opens one per call). */
export async function sqlReader(t: TestContext, dir: string): Promise<<T = Record<string, unknown>>(query: string) => Promise<T[]>> {
  if (DIALECT === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path.join(dir, 'gatehouse.sqlite'), { readonly: true });
    t.after(() => db.close());
    return async <T>(query: string) => db.prepare(query).all() as T[];
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, options: `-c search_path=${schemaFor(dir)}` });
  await client.connect();
  t.after(() => client.end());
  return async <T>(query: string) => (await client.query(query)).rows as T[];
}

/** A private JWK as stored in signing_keys.private_jwk, opened with the app's key-encryption key. */
export function openStoredJwk(app: TestApp, kid: string, storedText: string): JWK {
  const stored: unknown = JSON.parse(storedText);
  if (!isSealed(stored)) throw new Error(`signing key ${kid} is stored in clear`);
  const { key, file } = app.config.keyEncryption;
  return openJwk(key !== undefined ? parseKek(key)! : keyFileKek(file), kid, stored);
}

/** Runs one writing SQL statement against the test app's database (simulating an older version's data). */
export async function sqlWrite(dir: string, statement: string, params: unknown[]): Promise<void> {
  if (DIALECT === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path.join(dir, 'gatehouse.sqlite'));
    try {
      db.prepare(statement.replace(/\$\d+/g, '?')).run(...params);
    } finally {
      db.close();
    }
    return;
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, options: `-c search_path=${schemaFor(dir)}` });
  await client.connect();
  try {
    await client.query(statement, params);
  } finally {
    await client.end();
  }
}
