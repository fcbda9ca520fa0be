/**
 * `gatehouse audit`, the command that reads the trail: JSON lines newest first, the filters,
 * the human-readable form, bad arguments. Helpers: test/helpers/audit.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PASSWORD, buildTestApp, register, type TestApp } from '../../helpers/app.js';
import { call, clientIp, loginAs } from '../../helpers/audit.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

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
