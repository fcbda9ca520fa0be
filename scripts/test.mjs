#!/usr/bin/env node
// The test command. Runs every test/**/*.test.ts with Node's built-in runner (through
// tsx) on SQLite, then the database-backed suites again on PostgreSQL, each in its own
// schema. Redis-backed tests find Redis themselves. In CI (CI=true) a missing PostgreSQL
// or Redis is a failure; elsewhere the run says plainly what it skipped.
//   npm test                     everything
//   npm test -- test/http        only these files/folders (both dialects where they apply)
//   TEST_DATABASE=sqlite npm test   one dialect only
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const PG_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CI = process.env.CI === 'true' || process.env.CI === '1';
// Suites whose behaviour depends on the store; the rest (config, CLI, browser...) run once.
const DATABASE_SUITES = ['test/http', 'test/storage', 'test/cluster', 'test/adversarial'];

function collect(target) {
  if (statSync(target).isFile()) return target.endsWith('.test.ts') ? [target] : [];
  return readdirSync(target)
    .sort()
    .flatMap((name) => collect(path.join(target, name)));
}

function reachable(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Streams the runner's output and reads its summary lines. */
function run(label, files, env) {
  console.log(`\n=== ${label}: ${files.length} files`);
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'test', ...env } },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      output += chunk.toString();
    });
    child.on('close', (code) => {
      // The summary comes before the list of failures: take the last occurrence of each line.
      const count = (name) => Number([...output.matchAll(new RegExp(`^ℹ ${name} (\\d+)$`, 'gm'))].at(-1)?.[1] ?? 0);
      resolve({ code: code ?? 1, pass: count('pass'), fail: count('fail'), skipped: count('skipped') });
    });
  });
}

const targets = process.argv.slice(2);
const files = (targets.length > 0 ? targets : ['test']).flatMap(collect);
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const dbFiles = files.filter((f) => DATABASE_SUITES.some((s) => f.startsWith(s)));
const only = process.env.TEST_DATABASE;
const notes = [];

const [pgUp, redisUp] = await Promise.all([reachable(PG_URL), reachable(REDIS_URL)]);
if (!redisUp) {
  if (CI) notes.push(`Redis is not reachable at ${REDIS_URL}: CI requires it`);
  else notes.push(`SKIPPED: Redis-backed tests (no Redis at ${REDIS_URL})`);
}

const results = [];
if (only !== 'postgres') {
  results.push(await run('SQLite', files, { TEST_DATABASE: 'sqlite', TEST_REDIS_AVAILABLE: redisUp ? '1' : '0' }));
}
if (only !== 'sqlite' && dbFiles.length > 0) {
  if (pgUp) {
    results.push(await run(`PostgreSQL (${PG_URL})`, dbFiles, { TEST_DATABASE: 'postgres', TEST_REDIS_AVAILABLE: redisUp ? '1' : '0' }));
  } else if (CI) {
    notes.push(`PostgreSQL is not reachable at ${PG_URL}: CI requires it`);
    results.push({ code: 1, pass: 0, fail: 1, skipped: 0 });
  } else {
    notes.push(`SKIPPED: the PostgreSQL pass (${dbFiles.length} files; no server at ${PG_URL})`);
  }
}
if (CI && !redisUp) results.push({ code: 1, pass: 0, fail: 1, skipped: 0 });

const total = results.reduce((a, r) => ({ pass: a.pass + r.pass, fail: a.fail + r.fail, skipped: a.skipped + r.skipped }), { pass: 0, fail: 0, skipped: 0 });
const failed = results.some((r) => r.code !== 0) || total.fail > 0;
console.log('');
for (const note of notes) console.log(note);
console.log(`${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped`);
process.exit(failed ? 1 : 0);
