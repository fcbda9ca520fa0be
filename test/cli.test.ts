/**
 * The `gatehouse` command as real subprocesses (`node --import tsx src/cli.ts ...`), each
 * with an environment built from scratch (PATH plus what the test sets) and its own SQLite
 * file in a temp dir: the repository's ./data and the developer's environment stay out.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { PASSWORD, tempDir } from './helpers/app.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = 'src/cli.ts';
const JOURNAL = path.join(ROOT, 'migrations/sqlite/meta/_journal.json');

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function baseEnv(dir: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    DATABASE_URL: `file:${path.join(dir, 'db.sqlite')}`,
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
  };
}

function start(args: string[], env: Record<string, string>, nodeArgs: string[] = []): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, CLI, ...args], {
    cwd: ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    // A hung CLI fails the test instead of hanging the run.
    timeout: 90_000,
    killSignal: 'SIGKILL',
  });
}

/** Collects a child's output and resolves when it exits. */
function finished(child: ChildProcess): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function run(args: string[], env: Record<string, string>, stdin = ''): Promise<RunResult> {
  const child = start(args, env);
  const done = finished(child);
  child.stdin!.end(stdin);
  return done;
}

function sqliteFile(env: Record<string, string>): string {
  return env.DATABASE_URL!.replace(/^file:/, '');
}

function withDb<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function migrationRows(file: string): Array<{ hash: string; created_at: number }> {
  return withDb(file, (db) => db.prepare('SELECT hash, created_at FROM "__drizzle_migrations" ORDER BY created_at').all() as Array<{ hash: string; created_at: number }>);
}

function tableNames(file: string): string[] {
  return withDb(file, (db) =>
    (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as Array<{ name: string }>).map((r) => r.name),
  );
}

const EXPECTED_TABLES = [
  '__drizzle_migrations',
  'auth_challenges',
  'authorization_codes',
  'consents',
  'email_tokens',
  'mfa_factors',
  'oauth_clients',
  'oidc_grants',
  'recovery_codes',
  'refresh_token_hashes',
  'revocation_events',
  'revoked_tokens',
  'security_events',
  'sessions',
  'signing_keys',
  'users',
];

function journalEntries(): number {
  return (JSON.parse(readFileSync(JOURNAL, 'utf8')) as { entries: unknown[] }).entries.length;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A stack frame as Node prints it: "    at fn (file:line:col)". */
const STACK_FRAME = /^\s+at .+:\d+(:\d+)?\)?$/m;

// Each test has its own temp dir and port, so two run side by side: most of the time here
// is process start-up (tsx loading the CLI's module graph), not work. More at once only
// slows every process down on a 2-core machine.
describe('gatehouse CLI', { concurrency: 2 }, () => {
  test('serve with PORT=abc exits non-zero with one line naming PORT and no stack trace', async (t) => {
    const dir = tempDir(t);
    const env = { ...baseEnv(dir), PORT: 'abc' };
    const result = await run(['serve'], env);
    assert.equal(result.signal, null);
    assert.notEqual(result.code, 0);
    assert.notEqual(result.code, null);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `stderr: ${result.stderr}`);
    assert.match(lines[0]!, /\bPORT\b/);
    assert.match(lines[0]!, /abc/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
    assert.equal(result.stdout, '');
    assert.equal(existsSync(sqliteFile(env)), false, 'no database is created for a bad configuration');
  });

  test('serve starts, answers /healthz, /, /docs and /openapi.json, and exits 0 on SIGTERM', async (t) => {
    const dir = tempDir(t);
    const port = await freePort();
    const env = { ...baseEnv(dir), HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' };
    const child = start(['serve'], env);
    const done = finished(child);
    child.stdin!.end();
    let exited: RunResult | undefined;
    void done.then((r) => (exited = r));
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 45_000;
    let health: Response | undefined;
    while (Date.now() < deadline && exited === undefined) {
      health = await fetch(`${base}/healthz`).catch(() => undefined);
      if (health) break;
      await sleep(100);
    }
    assert.equal(exited, undefined, `serve exited early: ${JSON.stringify(exited)}`);
    assert.ok(health, 'serve did not answer /healthz within 45 s (start-up compiles TypeScript through tsx; slow on a loaded machine)');
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });

    const root = await fetch(`${base}/`, { redirect: 'manual' });
    assert.ok(root.status >= 300 && root.status < 400, `GET / → ${root.status}`);
    assert.equal(new URL(root.headers.get('location') ?? '', base).pathname, '/docs');

    // fetch follows a redirect from /docs to /docs/ if Swagger UI answers with one.
    const docs = await fetch(`${base}/docs`);
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await docs.text(), /<html/i);

    const openapi = await fetch(`${base}/openapi.json`);
    assert.equal(openapi.status, 200);
    assert.match(openapi.headers.get('content-type') ?? '', /^application\/json/);
    const doc = (await openapi.json()) as { openapi: string; servers?: Array<{ url: string }> };
    assert.equal(doc.openapi, '3.1.0');
    // Without PUBLIC_URL the server URL is http://HOST:PORT of the running server, or relative to it.
    assert.equal(new URL(doc.servers?.[0]?.url ?? 'missing:', base).origin, base);

    const killedAt = Date.now();
    assert.ok(child.kill('SIGTERM'));
    const result = await Promise.race([done, sleep(5_000).then(() => undefined)]);
    assert.ok(result, 'serve did not exit within 5 s of SIGTERM');
    assert.equal(result.signal, null, 'exited by itself, not killed by the signal');
    assert.equal(result.code, 0, `stderr: ${result.stderr}`);
    assert.ok(Date.now() - killedAt < 5_000);
    assert.match(result.stdout, /shutting down/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
    // The port is free again.
    await assert.rejects(fetch(`${base}/healthz`));
  });

  test('SIGTERM during a request on a keep-alive connection: the request completes, serve exits 0 at once', async (t) => {
    const dir = tempDir(t);
    const port = await freePort();
    const env = { ...baseEnv(dir), HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' };
    const child = start(['serve'], env);
    const done = finished(child);
    child.stdin!.end();
    let exited: RunResult | undefined;
    void done.then((r) => (exited = r));
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 45_000;
    let up = false;
    while (Date.now() < deadline && exited === undefined && !up) {
      up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
      if (!up) await sleep(100);
    }
    assert.ok(up, `serve did not answer /healthz within 45 s: ${JSON.stringify(exited)}`);

    // The request is held in flight by its body: the rest is sent only once the server has
    // logged SIGTERM. The agent keeps the connection alive after the answer, as browsers
    // and proxies do.
    const body = JSON.stringify({ username: 'inflight', email: 'inflight@example.com', password: PASSWORD });
    const agent = new http.Agent({ keepAlive: true });
    t.after(() => agent.destroy());
    const request = http.request(`${base}/register`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
      request.on('response', (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      });
      request.on('error', reject);
    });
    request.write(body.slice(0, 10));
    await sleep(300);
    assert.ok(child.kill('SIGTERM'));
    const signalDeadline = Date.now() + 8_000;
    while (!stdout.includes('shutting down') && Date.now() < signalDeadline) await sleep(20);
    assert.match(stdout, /shutting down/);
    request.end(body.slice(10));
    const response = await answered;
    assert.equal(response.status, 200, response.body);
    // Before the fix the answered keep-alive connection held the close open until the
    // forced exit (code 1, 10 s after SIGTERM), with the database still open.
    const result = await Promise.race([done, sleep(8_000).then(() => undefined)]);
    assert.ok(result, 'serve did not exit within 8 s of its answer');
    assert.equal(result.code, 0, `exit code ${result.code} (1: the forced exit); stdout: ${result.stdout.slice(-600)}`);
  });

  test('DATABASE_URL_FILE: the URL comes from the file; X with X_FILE is one configuration-error line, exit 78', async (t) => {
    const dir = tempDir(t);
    const { DATABASE_URL: _fromEnv, ...env } = baseEnv(dir);
    const secret = path.join(dir, 'database_url');
    writeFileSync(secret, `file:${path.join(dir, 'from-secret.sqlite')}\n`);
    const migrated = await run(['migrate'], { ...env, DATABASE_URL_FILE: secret });
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.ok(existsSync(path.join(dir, 'from-secret.sqlite')), 'the database named in the file was created');

    const both = await run(['migrate'], { ...env, DATABASE_URL: _fromEnv, DATABASE_URL_FILE: secret });
    assert.equal(both.code, 78);
    assert.equal(both.stderr, 'gatehouse: configuration error: DATABASE_URL_FILE: DATABASE_URL is set too; set only one of them\n');
    assert.equal(both.stdout, '');
  });

  test('migrate twice: both exit 0 and the second applies nothing new', async (t) => {
    const dir = tempDir(t);
    const env = baseEnv(dir);
    const file = sqliteFile(env);

    const first = await run(['migrate'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /migrations applied/);
    const afterFirst = migrationRows(file);
    assert.equal(afterFirst.length, journalEntries());
    assert.ok(afterFirst.length >= 1);
    assert.deepEqual(tableNames(file), EXPECTED_TABLES);

    const second = await run(['migrate'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(migrationRows(file), afterFirst);
    assert.deepEqual(tableNames(file), EXPECTED_TABLES);
  });

  test('two migrate processes released at the same moment on one fresh file both succeed, schema applied once', async (t) => {
    const dir = tempDir(t);
    const env = baseEnv(dir);
    const file = sqliteFile(env);
    // A preload that loads the CLI's module graph, says "ready" and waits for a byte on stdin:
    // both processes are released in the same tick, with their start-up cost already paid.
    const gate = path.join(dir, 'gate.mjs');
    const preload = ['src/cli/commands/migrate.ts', 'src/composition.ts', 'src/config/index.ts', 'src/storage/index.ts'].map((p) => pathToFileURL(path.join(ROOT, p)).href);
    writeFileSync(
      gate,
      `for (const m of ${JSON.stringify(preload)}) await import(m);\n` +
        `process.stderr.write('gate: ready\\n');\n` +
        `await new Promise((resolve) => process.stdin.once('data', resolve));\n` +
        `process.stdin.destroy();\n`,
    );
    const children = [0, 1].map(() => start(['migrate'], env, ['--import', pathToFileURL(gate).href]));
    const results = children.map(finished);
    t.after(() => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    const ready = children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          let seen = '';
          child.stderr!.on('data', (chunk: string) => {
            seen += chunk;
            if (seen.includes('gate: ready')) resolve();
          });
          child.once('close', () => reject(new Error(`exited before the gate: ${seen}`)));
        }),
    );
    const timeout = sleep(20_000).then(() => {
      throw new Error('the migrate processes did not reach the gate within 20 s');
    });
    await Promise.race([Promise.all(ready), timeout]);
    assert.equal(existsSync(file), false, 'neither process has touched the database before the gate');
    for (const child of children) child.stdin!.write('go\n');

    for (const result of await Promise.all(results)) {
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /migrations applied/);
      assert.doesNotMatch(result.stderr, /SQLITE_BUSY|already exists|error/i);
    }
    assert.equal(migrationRows(file).length, journalEntries(), 'each migration recorded exactly once');
    assert.deepEqual(tableNames(file), EXPECTED_TABLES);
  });

  test('users mfa-reset removes every factor and recovery code of the user, audited; an unknown user is an error', async (t) => {
    const dir = tempDir(t);
    const env = baseEnv(dir);
    const file = sqliteFile(env);
    const created = await run(['users', 'create', '--username', 'lost', '--email', 'lost@example.com', '--password-stdin'], env, `${PASSWORD}\n`);
    assert.equal(created.code, 0, created.stderr);
    // Two factors and two codes, written the way the server would have stored them.
    const writer = new Database(file, { fileMustExist: true });
    {
      const db = writer;
      const now = Date.now();
      db.prepare(`INSERT INTO mfa_factors (id, user_id, type, name, created_at, activated_at, counter) VALUES ('f1', 1, 'totp', 'App', ?, ?, 0), ('f2', 1, 'webauthn', 'Key', ?, ?, 0)`).run(now, now, now, now);
      db.prepare(`INSERT INTO recovery_codes (hash, user_id, created_at) VALUES ('h1', 1, ?), ('h2', 1, ?)`).run(now, now);
    }
    writer.close();
    const reset = await run(['users', 'mfa-reset', '--username', 'LOST'], env);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /removed 2 second factor/);
    const left = withDb(file, (db) => db.prepare('SELECT (SELECT count(*) FROM mfa_factors) AS f, (SELECT count(*) FROM recovery_codes) AS r').get());
    assert.deepEqual(left, { f: 0, r: 0 });
    const audit = withDb(file, (db) => db.prepare(`SELECT user_id, detail FROM security_events WHERE type = 'mfa_reset_by_admin'`).all()) as Array<{ user_id: number; detail: string }>;
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.user_id, 1);
    assert.equal(JSON.parse(audit[0]!.detail).factors_removed, 2);
    const unknown = await run(['users', 'mfa-reset', '--username', 'nobody'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no user nobody/);
  });

  test('users create --password-stdin stores an argon2id hash; a weak password is refused in one line', async (t) => {
    const dir = tempDir(t);
    const env = baseEnv(dir);
    const file = sqliteFile(env);

    const weak = 'weakpass';
    // Two processes on one database at once: the refusal must not depend on ordering.
    const [created, refused] = await Promise.all([
      run(['users', 'create', '--username', 'zed', '--email', 'zed@example.com', '--password-stdin'], env, `${PASSWORD}\n`),
      run(['users', 'create', '--username', 'weakling', '--email', 'weak@example.com', '--password-stdin'], env, `${weak}\n`),
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /created user \d+ \(zed\)/);
    assert.ok(!created.stdout.includes(PASSWORD) && !created.stderr.includes(PASSWORD), 'the password is never printed');
    const rows = withDb(file, (db) => db.prepare('SELECT username, email, password_hash FROM users').all()) as Array<{
      username: string;
      email: string;
      password_hash: string;
    }>;
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.username, 'zed');
    assert.equal(rows[0]!.email, 'zed@example.com');
    assert.ok(rows[0]!.password_hash.startsWith('$argon2id$'), rows[0]!.password_hash);
    // The configured cost is the one used (ARGON2_MEMORY_KIB=1024, ARGON2_TIME_COST=1).
    assert.match(rows[0]!.password_hash, /\$m=1024,t=1,p=1\$/);
    assert.ok(!rows[0]!.password_hash.includes(PASSWORD));

    assert.notEqual(refused.code, 0);
    assert.notEqual(refused.code, null);
    const lines = refused.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `stderr: ${refused.stderr}`);
    assert.match(lines[0]!, /password/i);
    assert.doesNotMatch(refused.stderr, STACK_FRAME);
    assert.ok(!refused.stderr.includes(weak) && !refused.stdout.includes(weak), 'the refused password is not echoed');
    const count = withDb(file, (db) => (db.prepare(`SELECT count(*) AS n FROM users WHERE username = 'weakling'`).get() as { n: number }).n);
    assert.equal(count, 0);
  });

  test('a user made with `users create` is in the audit trail, as one registered over HTTP would be', async (t) => {
    const env = baseEnv(tempDir(t));
    const created = await run(['users', 'create', '--username', 'audited', '--email', 'audited@example.com', '--password-stdin'], env, `${PASSWORD}\n`);
    assert.equal(created.code, 0, created.stderr);
    const id = Number(/created user (\d+)/.exec(created.stdout)?.[1]);
    const audit = await run(['audit', '--json', '--type', 'registered'], env);
    assert.equal(audit.code, 0, audit.stderr);
    const entries = audit.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; userId: number });
    assert.deepEqual(entries.map((e) => [e.type, e.userId]), [['registered', id]]);
  });

  test('keys rotate loads neither Fastify nor the HTTP layer', async (t) => {
    const dir = tempDir(t);
    const env = baseEnv(dir);
    const log = path.join(dir, 'modules.log');
    const child = start(['keys', 'rotate'], { ...env, MODULE_LOG: log }, ['--import', './test/helpers/module-log.mjs']);
    child.stdin!.end();
    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /new signing key \S+ is published now and signs from /);
    const modules = readFileSync(log, 'utf8').trim().split('\n');
    // The log works: the command's own modules are in it.
    assert.ok(modules.some((m) => m.endsWith('/src/composition.ts')), 'composition.ts loaded');
    assert.ok(modules.some((m) => m.endsWith('/src/cli/commands/keys-rotate.ts')), 'keys-rotate.ts loaded');
    const http = modules.filter((m) => /\/node_modules\/(fastify|@fastify\/[^/]+)\/|\/src\/(http\/|app\.ts|server\.ts)/.test(m));
    assert.deepEqual(http, [], 'no HTTP module loaded');
  });

  test('clients create with OpenID Connect flags prints client_id and client_secret one per line and stores them', async (t) => {
    const dir = tempDir(t);
    const env = baseEnv(dir);
    const [confidential, pub, bad] = [
      await run(
        ['clients', 'create', '--id', 'grafana', '--redirect-uri', 'https://grafana.example.com/login/generic_oauth', '--redirect-uri', 'http://localhost:3000/login/generic_oauth',
          '--post-logout-redirect-uri', 'https://grafana.example.com/login', '--scopes', 'openid profile email offline_access', '--first-party', '--id-token-alg', 'ES256'],
        env,
      ),
      await run(['clients', 'create', '--id', 'spa', '--public', '--redirect-uri', 'https://spa.example.com/cb'], env),
      await run(['clients', 'create', '--id', 'evil', '--redirect-uri', 'http://evil.example.com/cb'], env),
    ];
    assert.equal(confidential.code, 0, confidential.stderr);
    const lines = confidential.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.equal(lines[0], 'client_id=grafana');
    assert.match(lines[1]!, /^client_secret=[A-Za-z0-9_-]{43}$/);
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal(pub.stdout.trimEnd(), 'client_id=spa', 'a public client has no secret');
    assert.notEqual(bad.code, 0, 'http redirect URIs only for localhost');
    assert.match(bad.stderr, /https/);
    assert.doesNotMatch(bad.stderr, STACK_FRAME);
    const row = withDb(sqliteFile(env), (db) => db.prepare(`SELECT * FROM oauth_clients WHERE id = 'grafana'`).get()) as Record<string, unknown>;
    assert.deepEqual(JSON.parse(String(row.redirect_uris)), ['https://grafana.example.com/login/generic_oauth', 'http://localhost:3000/login/generic_oauth']);
    assert.deepEqual(JSON.parse(String(row.post_logout_redirect_uris)), ['https://grafana.example.com/login']);
    assert.equal(row.scopes, 'openid profile email offline_access');
    assert.equal(row.first_party, 1);
    assert.equal(row.id_token_alg, 'ES256');
    assert.deepEqual(JSON.parse(String(row.grant_types)), ['authorization_code', 'refresh_token']);
  });

  test('an unknown command exits 2 with the usage', async () => {
    const dir = '/nonexistent-gatehouse-dir';
    const result = await run(['frobnicate', '--now'], baseEnv(dir));
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /unknown command: frobnicate --now/);
    assert.match(result.stderr, /Usage: gatehouse <command>/);
    assert.match(result.stderr, /\bmigrate\b/);
    assert.equal(result.stdout, '');
    assert.equal(existsSync(dir), false, 'an unknown command opens no database');
  });
});
