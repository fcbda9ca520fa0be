#!/usr/bin/env node
/* global fetch, setTimeout, clearTimeout */
// `npm run bench` (issue 6): builds, starts the real server as a child process on a free
// loopback port with a fresh database, measures the floors in the same run (bare Fastify
// GET /hello, Fastify + jose EdDSA verify, argon2id verify time), loads every scenario
// with autocannon from separate processes, prints a table and writes bench/results.md.
//
//   npm run bench                       SQLite (a fresh temp file)
//   npm run bench -- --pg               PostgreSQL (fresh schema) + Redis (fresh key prefix)
//   npm run bench -- --quiet-logs       LOG_LEVEL=warn instead of the default info
//   npm run bench -- --only me-hot --cpu-prof
//                                       one scenario, the server under node --cpu-prof; writes a
//                                       summary of the profile to bench/profile-<db>-<scenarios>.md
// Other flags: --duration S (10), --warmup S (2), --connections N (32), --no-build,
// --skip-floors, --sessions N (10000), --fill-seconds S (100), --me-rate R (1000),
// --out FILE, --keep (keep the temp dir and the server log), --wait-quiet S (120: how long
// to wait for the machine's CPU to be < 15 % busy before starting), --db-dir DIR (where the
// fresh SQLite file goes, e.g. /dev/shm to take disk flushes out of the figures).
import { spawn, spawnSync, fork, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, openSync, closeSync, readFileSync, writeFileSync, rmSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = path.join(ROOT, 'bench');
const SCENARIOS = ['healthz', 'me-hot', 'refresh', 'me-cold', 'login', 'register', 'me-under-login'];

const { values: args } = parseArgs({
  options: {
    pg: { type: 'boolean', default: false },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
    'quiet-logs': { type: 'boolean', default: false },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
    build: { type: 'boolean', default: true },
    'no-build': { type: 'boolean', default: false },
    'skip-floors': { type: 'boolean', default: false },
    only: { type: 'string' },
    sessions: { type: 'string', default: '10000' },
    'fill-seconds': { type: 'string', default: '100' },
    'me-rate': { type: 'string', default: '1000' },
    'me-connections': { type: 'string', default: '8' },
    'jose-tokens': { type: 'string', default: '60000' },
    'cpu-prof': { type: 'boolean', default: false },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'wait-quiet': { type: 'string', default: '120' },
    'db-dir': { type: 'string' },
    'max-seconds': { type: 'string', default: '600' },
  },
  strict: true,
});

const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
const CONNECTIONS = Number(args.connections);
const SESSIONS_TARGET = Number(args.sessions);
const FILL_SECONDS = Number(args['fill-seconds']);
const ME_RATE = Number(args['me-rate']);
const ME_CONNECTIONS = Number(args['me-connections']);
const JOSE_TOKENS = Number(args['jose-tokens']);
const only = args.only ? args.only.split(',').map((s) => s.trim()) : SCENARIOS;
for (const s of only) if (!SCENARIOS.includes(s)) throw new Error(`--only: unknown scenario ${s} (${SCENARIOS.join(', ')})`);
const full = !args.only && !args['skip-floors'] && !args['cpu-prof'];
const dbKind = args.pg ? 'postgres' : 'sqlite';
const logLevel = args['quiet-logs'] ? 'warn' : 'info';
const CORES = availableParallelism();
const runId = `${Date.now().toString(36).slice(-5)}${randomBytes(2).toString('hex')}`;
const PASSWORD = 'Bench-Password-1';
const BIG = '100000000';
/** The node flags `npm start` (package.json) and the `gatehouse` bin run the server with. */
const SERVER_NODE_FLAGS = /node ((?:--\S+ )*)dist\/cli\.js serve/.exec(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts.start)[1].trim().split(' ').filter(Boolean);

const cli = process.env.npm_lifecycle_event === 'bench'
  ? `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
  : `node bench/run.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;

const t0 = Date.now();
const log = (msg) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);

// ---------------------------------------------------------------- process plumbing
const children = new Set();
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function killAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
}
process.on('SIGINT', () => { killAll(); process.exit(130); });
process.on('SIGTERM', () => { killAll(); process.exit(143); });
/** Bounds the run (armed once the machine is quiet): everything is killed past --max-seconds. */
function armWatchdog() {
  setTimeout(() => {
    log(`run exceeded --max-seconds ${args['max-seconds']}: stopping`);
    killAll();
    process.exit(124);
  }, Number(args['max-seconds']) * 1000).unref();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a floor server script and waits for its "READY <port>" line. */
function startFloor(script, env = {}) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, [path.join(BENCH, script)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    }));
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /READY (\d+)/.exec(buf);
      if (m) {
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
}

function stopChild(child, timeoutMs = 15000) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
}

/** One autocannon run in a forked bench/load.mjs process. */
function load(spec) {
  return new Promise((resolve, reject) => {
    const child = track(fork(path.join(BENCH, 'load.mjs'), [], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    let answered = false;
    child.once('message', (msg) => {
      answered = true;
      if (msg.error) reject(new Error(`load ${spec.kind}: ${msg.error}`));
      else resolve(msg.result);
    });
    child.once('exit', (code) => { if (!answered) reject(new Error(`load ${spec.kind} exited with ${code}`)); });
    child.send({ spec });
  });
}

function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, anonMb: kb('RssAnon') / 1024, fileMb: kb('RssFile') / 1024 };
}

/** The V8 heap (total reserved, used) as the server's own /metrics reports it, in MB. */
async function serverHeap(url) {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const gauge = (name) => Number(new RegExp(`^gatehouse_nodejs_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
    return { heapTotalMb: gauge('heap_size_total_bytes'), heapUsedMb: gauge('heap_size_used_bytes'), externalMb: gauge('external_memory_bytes') };
  } catch {
    return {};
  }
}

/** Waits (at most 15 s) until the process uses under 5 % of a core over 0.5 s; returns the wait in ms. */
async function waitIdle(pid) {
  const t0 = Date.now();
  let last = procCpuSeconds(pid);
  while (Date.now() - t0 < 15000) {
    await sleep(500);
    const now = procCpuSeconds(pid);
    if (now - last < 0.025) break;
    last = now;
  }
  return Date.now() - t0;
}

/** CPU seconds (user + system, all threads) the process has used so far. */
function procCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (CLK_TCK 100)
}

function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU seconds used so far by each PostgreSQL and Redis server process (with --pg). */
function dbCpu() {
  const out = new Map();
  if (!args.pg) return out;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const comm = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      if (comm === 'postgres' || comm.startsWith('redis-server')) out.set(d, procCpuSeconds(d));
    } catch { /* gone */ }
  }
  return out;
}

/** Starts measuring the server's, the databases' and the whole machine's CPU; stop() gives cores used. */
function cpuMeter(pid) {
  const s0 = procCpuSeconds(pid);
  const d0 = dbCpu();
  const m0 = machineTicks();
  const w0 = Date.now();
  return () => {
    const wall = (Date.now() - w0) / 1000;
    const m1 = machineTicks();
    let db = 0;
    for (const [p, c] of dbCpu()) db += c - (d0.get(p) ?? 0);
    return {
      serverCores: (procCpuSeconds(pid) - s0) / wall,
      ...(args.pg ? { dbCores: db / wall } : {}),
      machineCores: ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * CORES,
    };
  };
}

/** Share of the machine's CPU time that was busy over `ms` (from /proc/stat). */
async function machineBusy(ms) {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await sleep(ms);
  const b = read();
  return 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
}

async function pmap(n, concurrency, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  }));
}

// ---------------------------------------------------------------- machine facts
function machineFacts() {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1].trim();
  } catch { /* not Linux */ }
  let git = 'unknown';
  let dirty = '';
  try {
    git = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (status) dirty = ` (src/ had uncommitted changes: ${status.split('\n').length} files)`;
  } catch { /* no git */ }
  const acVersion = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/autocannon/package.json'), 'utf8')).version;
  return {
    cores: CORES,
    model,
    memGb: totalmem() / 2 ** 30,
    node: process.version,
    kernel: release(),
    date: new Date().toISOString(),
    git: git + dirty,
    autocannon: acVersion,
  };
}

// ---------------------------------------------------------------- the run
const tmp = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-'));
const results = { floors: {}, scenarios: {}, rss: {}, notes: [], sessions: 0 };
/** Monotonic [start, end] µs of each measured server run (to cut the CPU profile to them). */
const windows = [];
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
let server;
let pgCleanup = async () => undefined;

async function main() {
  const facts = machineFacts();
  // Wait (bounded) for the machine to be quiet: other processes would steal the cores.
  const quietDeadline = Date.now() + Number(args['wait-quiet']) * 1000;
  let busy = await machineBusy(2000);
  while (busy > 0.15 && Date.now() < quietDeadline) {
    log(`machine is ${(busy * 100).toFixed(0)} % busy before the run: waiting for it to quiet down`);
    busy = await machineBusy(5000);
  }
  results.busyBefore = busy;
  if (busy > 0.15) results.notes.push(`The machine was ${(busy * 100).toFixed(0)} % busy with other processes when the run started (waited ${args['wait-quiet']} s): figures are noisy, ratios less so.`);
  const loadBefore = loadavg();
  armWatchdog();
  log(`gatehouse bench: ${dbKind}, LOG_LEVEL=${logLevel}, ${CONNECTIONS} connections, ${WARMUP}s warm-up + ${DURATION}s per scenario, ${CORES} cores`);

  if (args.build && !args['no-build']) {
    log('npm run build');
    const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) throw new Error(`npm run build failed (exit ${b.status})`);
  }

  // ---- floors: measured before the server starts and again after it stopped; the better
  // figure of the two is the floor (noise from other processes only ever lowers a floor,
  // which would flatter every ratio).
  if (!args['skip-floors']) await measureFloors(0);

  // ---- the server
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: logLevel,
    RATE_LIMIT_LOGIN_PER_MINUTE: BIG,
    RATE_LIMIT_REGISTER_PER_HOUR: BIG,
    RATE_LIMIT_REFRESH_PER_MINUTE: BIG,
    LOCKOUT_ACCOUNT_IP_FAILURES: BIG,
    LOCKOUT_ACCOUNT_FAILURES: BIG,
  };
  if (args.pg) {
    const schema = `bench_${runId}`;
    const u = new URL(args['pg-url']);
    u.searchParams.set('schema', schema);
    env.DATABASE_URL = u.toString();
    env.REDIS_URL = args['redis-url'];
    env.REDIS_KEY_PREFIX = `gatehouse-bench-${runId}:`;
    pgCleanup = () => cleanupPg(args['pg-url'], schema, args['redis-url'], env.REDIS_KEY_PREFIX);
  } else {
    // --db-dir /dev/shm puts the database on tmpfs (fsync costs nothing there): for
    // telling disk-flush time from CPU time, not for the committed figures.
    const dbDir = args['db-dir'] ? mkdtempSync(path.join(args['db-dir'], 'gatehouse-bench-')) : tmp;
    if (args['db-dir']) {
      const prev = pgCleanup;
      pgCleanup = async () => { await prev(); rmSync(dbDir, { recursive: true, force: true }); };
      results.notes.push(`The SQLite database was in ${args['db-dir']} (--db-dir), not in the temp directory.`);
    }
    env.DATABASE_URL = `file:${path.join(dbDir, 'gatehouse.sqlite')}`;
  }
  let profDir;
  if (args['cpu-prof']) {
    profDir = path.join(BENCH, 'profiles');
    mkdirSync(profDir, { recursive: true });
  }
  results.serverEnv = { ...env, PATH: undefined, HOME: undefined };
  const logFile = path.join(tmp, 'server.log');
  const logFd = openSync(logFile, 'w');
  log(`server: node ${SERVER_NODE_FLAGS.join(' ')} dist/cli.js serve on 127.0.0.1:${port} (${dbKind}, log to ${args.keep ? logFile : 'a temp file'})`);
  server = track(spawn(process.execPath, [...SERVER_NODE_FLAGS, ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), path.join(ROOT, 'dist/cli.js'), 'serve'], { cwd: tmp, env, stdio: ['ignore', logFd, logFd] }));
  closeSync(logFd);
  let serverExited = null;
  server.once('exit', (code, signal) => { serverExited = { code, signal }; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (serverExited) throw new Error(`server exited (${JSON.stringify(serverExited)}): ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error('server did not become healthy in 30 s');
    await sleep(100);
  }
  const pid = server.pid;
  results.rss.started = { ...procStatus(pid), ...(await serverHeap(url)) };

  // ---- fixtures: 100 users, each logged in 10 times -> 1 000 sessions / token pairs
  log('setup: register 100 users, log each in 10 times (1 000 sessions)');
  const users = Array.from({ length: 100 }, (_, i) => ({ username: `bs${runId}_${i}`, password: PASSWORD }));
  await pmap(users.length, 4, async (i) => {
    const u = users[i];
    const r = await fetch(`${url}/register`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: u.username, email: `${u.username}@bench.example`, password: u.password }),
    });
    if (r.status !== 200) throw new Error(`setup register ${r.status}: ${await r.text()}`);
  });
  const pairs = new Array(1000);
  await pmap(1000, 8, async (i) => {
    const u = users[i % users.length];
    const r = await fetch(`${url}/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: u.username, password: u.password }),
    });
    if (r.status !== 200) throw new Error(`setup login ${r.status}: ${await r.text()}`);
    pairs[i] = await r.json();
  });
  results.sessions = 1000;
  const usersFile = path.join(tmp, 'users.json');
  writeFileSync(usersFile, JSON.stringify(users));
  const hotFile = path.join(tmp, 'hot-tokens.txt');
  writeFileSync(hotFile, pairs.map((p) => p.access_token).join('\n'));
  let poolFile = path.join(tmp, 'refresh-pool.txt');
  writeFileSync(poolFile, pairs.map((p) => p.refresh_token).join('\n'));
  results.rss.afterSetup = { ...procStatus(pid), ...(await serverHeap(url)) };

  const base = { url, connections: CONNECTIONS };
  /** Warm-up, then the measured run, with the server's CPU use over the measured run. */
  async function scenario(name, spec, warmSpec = spec) {
    log(`scenario ${name}: warm-up`);
    const warm = await load({ ...base, ...warmSpec, duration: WARMUP });
    log(`scenario ${name}: measure`);
    const meter = cpuMeter(pid);
    const win0 = nowUs();
    const r = await load({ ...base, ...spec, duration: DURATION });
    Object.assign(r, meter());
    windows.push({ name, span: [win0, nowUs()] });
    r.warmupNon2xx = warm.non2xx + warm.errors + warm.timeouts;
    results.scenarios[name] = r;
    log(`  ${fmtRate(r.okRps)} req/s, p50 ${fmtMs(r.latencyMs.p50)} ms, p99 ${fmtMs(r.latencyMs.p99)} ms, non-2xx ${r.non2xx}, server ${r.serverCores.toFixed(2)} cores, load generator ${r.loadgenCores.toFixed(2)} cores`);
    return { warm, r };
  }

  if (only.includes('healthz')) {
    // Gatehouse's own per-request work and nothing else (security headers, the access-log
    // line, the metrics; no authentication, no database): the floor under every route.
    await scenario('healthz', { kind: 'static', path: '/healthz' });
  }
  if (only.includes('me-hot') || only.includes('me-under-login')) {
    // "Hot" means every token of the working set has been seen: one pass over all of them
    // first (each once), then the timed warm-up and the measured run.
    log('hot tokens: one pass over the 1 000 tokens');
    await load({ ...base, kind: 'cold', path: '/me', tokensFile: hotFile, start: 0, amount: 1000 });
  }
  if (only.includes('me-hot')) {
    await scenario('me-hot', { kind: 'hot', path: '/me', tokensFile: hotFile });
  }

  let coldTokens = [];
  if (only.includes('refresh') || only.includes('me-cold')) {
    // Each refresh token is used exactly once: the pool starts with the 1 000 sessions'
    // tokens and takes back the rotated token of each answer. The access tokens of the
    // answers are the cold tokens of me-cold (never presented to the server before).
    const warmOut = path.join(tmp, 'refresh-warm.json');
    const runOut = path.join(tmp, 'refresh-run.json');
    log('scenario refresh: warm-up');
    const warm = await load({ ...base, kind: 'refresh', poolFile, collectFile: warmOut, collectMax: 400000, duration: WARMUP });
    const w = JSON.parse(readFileSync(warmOut, 'utf8'));
    poolFile = path.join(tmp, 'refresh-pool-2.txt');
    writeFileSync(poolFile, w.pool.join('\n'));
    log('scenario refresh: measure');
    const meter = cpuMeter(pid);
    const win0 = nowUs();
    const r = await load({ ...base, kind: 'refresh', poolFile, collectFile: runOut, collectMax: 400000, duration: DURATION });
    Object.assign(r, meter());
    windows.push({ name: 'refresh', span: [win0, nowUs()] });
    r.warmupNon2xx = warm.non2xx + warm.errors + warm.timeouts;
    const c = JSON.parse(readFileSync(runOut, 'utf8'));
    r.poolLeft = c.pool.length;
    r.poolExhausted = c.lost;
    results.scenarios.refresh = r;
    log(`  ${fmtRate(r.okRps)} req/s, p50 ${fmtMs(r.latencyMs.p50)} ms, p99 ${fmtMs(r.latencyMs.p99)} ms, non-2xx ${r.non2xx}, server ${r.serverCores.toFixed(2)} cores`);
    coldTokens = [...w.accessTokens, ...c.accessTokens];
  }

  if (only.includes('me-cold')) {
    const coldFile = path.join(tmp, 'cold-tokens.txt');
    writeFileSync(coldFile, coldTokens.join('\n'));
    const warmN = Math.min(5000, Math.floor(coldTokens.length / 10));
    const n = coldTokens.length - warmN;
    if (n < CONNECTIONS * 10) throw new Error(`me-cold: only ${coldTokens.length} cold tokens were minted by /refresh`);
    log(`scenario me-cold: warm-up (${warmN} tokens), measure (${n} tokens, each sent once)`);
    const warm = await load({ ...base, kind: 'cold', path: '/me', tokensFile: coldFile, start: 0, amount: warmN });
    const meter = cpuMeter(pid);
    const win0 = nowUs();
    const r = await load({ ...base, kind: 'cold', path: '/me', tokensFile: coldFile, start: warmN, amount: n });
    Object.assign(r, meter());
    windows.push({ name: 'me-cold', span: [win0, nowUs()] });
    r.warmupNon2xx = warm.non2xx + warm.errors + warm.timeouts;
    results.scenarios['me-cold'] = r;
    log(`  ${fmtRate(r.okRps)} req/s over ${r.duration} s, p50 ${fmtMs(r.latencyMs.p50)} ms, p99 ${fmtMs(r.latencyMs.p99)} ms, non-2xx ${r.non2xx}, server ${r.serverCores.toFixed(2)} cores`);
  }

  if (only.includes('login')) {
    const { warm, r } = await scenario('login', { kind: 'login', usersFile });
    results.sessions += warm.ok + r.ok;
  }

  if (only.includes('register')) {
    await scenario('register', { kind: 'register', prefix: `br${runId}_`, password: PASSWORD }, { kind: 'register', prefix: `bw${runId}_`, password: PASSWORD });
  }

  if (only.includes('me-under-login')) {
    // Logins saturate the server (all the connections) while GET /me runs at a fixed rate from
    // another process; /me starts 1 s after the logins and ends before them.
    log(`scenario me-under-login: /login saturated + /me at ${ME_RATE} req/s (${ME_CONNECTIONS} connections)`);
    const meter = cpuMeter(pid);
    const win0 = nowUs();
    const loginRun = load({ ...base, kind: 'login', usersFile, start: 7, duration: DURATION + 2 });
    await sleep(1000);
    const meRun = await load({ url, kind: 'hot', path: '/me', tokensFile: hotFile, connections: ME_CONNECTIONS, overallRate: ME_RATE, duration: DURATION });
    const lr = await loginRun;
    Object.assign(meRun, meter());
    windows.push({ name: 'me-under-login', span: [win0, nowUs()] });
    meRun.login = lr;
    results.sessions += lr.ok;
    results.scenarios['me-under-login'] = meRun;
    log(`  /me ${fmtRate(meRun.okRps)} req/s, p50 ${fmtMs(meRun.latencyMs.p50)} ms, p99 ${fmtMs(meRun.latencyMs.p99)} ms, non-2xx ${meRun.non2xx}; /login ${fmtRate(lr.okRps)} req/s, non-2xx ${lr.non2xx}`);
  }

  results.rss.endOfLoad = { ...procStatus(pid), ...(await serverHeap(url)) };
  log(`RSS at the end of the load: ${results.rss.endOfLoad.rssMb.toFixed(1)} MB`);

  // ---- sessions up to the target (logins: argon2-bound, so capped in time)
  if (full || (only.includes('login') && !args['cpu-prof'])) {
    const fillStart = Date.now();
    const rate = results.scenarios.login?.okRps || 100;
    while (results.sessions < SESSIONS_TARGET && (Date.now() - fillStart) / 1000 < FILL_SECONDS) {
      const left = FILL_SECONDS - (Date.now() - fillStart) / 1000;
      const amount = Math.max(CONNECTIONS, Math.min(SESSIONS_TARGET - results.sessions, Math.ceil(rate * Math.min(10, left))));
      log(`sessions: ${results.sessions} of ${SESSIONS_TARGET}; logging in ${amount} more`);
      const r = await load({ ...base, kind: 'login', usersFile, start: results.sessions, amount, timeout: 60 });
      results.sessions += r.ok;
      if (r.ok === 0) break;
    }
    results.rss.afterSessions = { ...procStatus(pid), ...(await serverHeap(url)) };
    log(`sessions: ${results.sessions}; RSS ${results.rss.afterSessions.rssMb.toFixed(1)} MB`);
  }
  // "After the run": once the server has finished what it was still doing (a load ends
  // with up to `cores + 1` argon2 hashes of 19 MiB each still in flight).
  results.rss.idleAfterMs = await waitIdle(pid);
  results.rss.final = { ...procStatus(pid), ...(await serverHeap(url)) };
  log(`RSS after the run (server idle after ${results.rss.idleAfterMs} ms): ${results.rss.final.rssMb.toFixed(1)} MB`);
  results.loadavg = { before: loadBefore, after: loadavg() };
  results.logBytes = statSync(logFile).size;

  await stopChild(server);
  server = undefined;
  await pgCleanup();
  if (!args['skip-floors']) await measureFloors(1);

  let profile;
  if (profDir) {
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(profDir, f));
    files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    if (files[0]) {
      const { summarize } = await import('./profile-summary.mjs');
      const data = JSON.parse(readFileSync(files[0], 'utf8'));
      // One section per measured run (set-up and warm-ups left out).
      const text = windows.map((w) => `## ${w.name}\n\n${summarize(data, 25, [w.span])}`).join('\n\n');
      profile = { file: path.relative(ROOT, files[0]), text };
    }
  }

  const report = render(facts, results);
  process.stdout.write(`\n${report.table}\n`);
  const out = args.out ?? (full ? path.join(BENCH, args.pg ? 'results-pg.md' : 'results.md') : undefined);
  if (out) {
    writeFileSync(out, report.markdown);
    log(`wrote ${path.relative(ROOT, out)}`);
  }
  if (profile) {
    const pf = path.join(BENCH, `profile-${dbKind}${args.only ? `-${only.join('+')}` : ''}.md`);
    writeFileSync(pf, `<!-- generated by \`${cli}\`; do not edit -->\n# CPU profile of the server (${dbKind}, LOG_LEVEL=${logLevel}, git ${machineFacts().git})\n\nnode --cpu-prof on the server process; samples of each measured run only. Profiling slows the server, so the rates of such a run are not the benchmark's.\n\n${profile.text}\n`);
    log(`wrote ${path.relative(ROOT, pf)} (profile ${profile.file}, not committed)`);
  }
  log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

async function measureFloors(round) {
  const tag = round === 0 ? 'before the server' : 'after the server';
  const fl = results.floors;
  fl.rounds ??= [];
  const r = {};
  fl.rounds.push(r);

  log(`floor (${tag}): argon2id single verify (separate process)`);
  const a = spawnSync(process.execPath, [path.join(BENCH, 'argon2-time.mjs')], {
    cwd: ROOT, env: { PATH: process.env.PATH, RUNS: '30' }, encoding: 'utf8',
  });
  if (a.status !== 0) throw new Error(`argon2-time failed: ${a.stderr}`);
  r.argon2 = JSON.parse(a.stdout.trim().split('\n').pop());
  r.argon2.boundPerSecond = (CORES * 1000) / r.argon2.medianMs;
  log(`  argon2id verify median ${r.argon2.medianMs.toFixed(2)} ms -> bound ${r.argon2.boundPerSecond.toFixed(0)}/s`);

  log(`floor (${tag}): bare Fastify GET /hello`);
  const hello = await startFloor('floor-hello.mjs');
  const helloUrl = `http://127.0.0.1:${hello.port}`;
  await load({ kind: 'static', url: helloUrl, path: '/hello', connections: CONNECTIONS, duration: WARMUP });
  const helloMeter = cpuMeter(hello.child.pid);
  r.hello = await load({ kind: 'static', url: helloUrl, path: '/hello', connections: CONNECTIONS, duration: DURATION });
  Object.assign(r.hello, helloMeter());
  log(`  ${fmtRate(r.hello.okRps)} req/s, p50 ${fmtMs(r.hello.latencyMs.p50)} ms`);
  await stopChild(hello.child);

  // Half the pre-signed tokens in each round, each token sent once over both rounds.
  const joseTokens = path.join(tmp, 'jose-tokens.txt');
  const half = Math.floor(JOSE_TOKENS / 2);
  log(`floor (${tag}): Fastify + jose EdDSA jwtVerify (${round === 0 ? `${JOSE_TOKENS} tokens pre-signed; ` : ''}${half} sent, each once)`);
  const jose = await startFloor('floor-jose.mjs', {
    TOKENS: String(round === 0 ? JOSE_TOKENS : 0), TOKENS_FILE: joseTokens, KEY_FILE: path.join(tmp, 'jose-key.json'),
  });
  const joseUrl = `http://127.0.0.1:${jose.port}`;
  const joseWarm = Math.min(5000, Math.floor(half / 10));
  const first = round * half;
  await load({ kind: 'cold', url: joseUrl, path: '/me', connections: CONNECTIONS, tokensFile: joseTokens, start: first, amount: joseWarm });
  const joseMeter = cpuMeter(jose.child.pid);
  r.jose = await load({
    kind: 'cold', url: joseUrl, path: '/me', connections: CONNECTIONS, tokensFile: joseTokens, start: first + joseWarm, amount: half - joseWarm,
  });
  Object.assign(r.jose, joseMeter());
  log(`  ${fmtRate(r.jose.okRps)} req/s, p50 ${fmtMs(r.jose.latencyMs.p50)} ms`);
  await stopChild(jose.child);

  // The best of the rounds so far: fastest argon2 (highest bound), highest req/s.
  const best = (pick) => fl.rounds.reduce((x, y) => (pick(y) > pick(x) ? y : x));
  fl.argon2 = best((x) => x.argon2.boundPerSecond).argon2;
  fl.hello = best((x) => x.hello.okRps).hello;
  fl.jose = best((x) => x.jose.okRps).jose;
}

async function cleanupPg(pgUrl, schema, redisUrl, prefix) {
  try {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  } catch (e) { log(`could not drop schema ${schema}: ${e.message}`); }
  try {
    const { Redis } = await import('ioredis');
    const redis = new Redis(redisUrl, { lazyConnect: true });
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
  } catch (e) { log(`could not delete Redis keys ${prefix}*: ${e.message}`); }
}

// ---------------------------------------------------------------- the report
function fmtRate(x) { return x == null || Number.isNaN(x) ? '—' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1); }
function fmtMs(x) { return x == null ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2); }
function pct(x) { return x == null || Number.isNaN(x) ? '—' : `${(x * 100).toFixed(1)} %`; }
function mb(x) { return x == null ? '—' : `${x.toFixed(1)} MB`; }

function render(facts, res) {
  const f = res.floors;
  const hello = f.hello?.okRps;
  const jose = f.jose?.okRps;
  const bound = f.argon2?.boundPerSecond;
  const rows = [];
  const verdicts = [];
  const s = res.scenarios;
  const add = (label, r, floorName, floor, target, extra = '') => {
    if (!r) return;
    const ratio = floor ? r.okRps / floor : undefined;
    const pass = ratio === undefined ? undefined : ratio >= target;
    const errs = r.non2xx + r.errors + r.timeouts;
    rows.push([label, fmtRate(r.okRps), fmtMs(r.latencyMs.p50), fmtMs(r.latencyMs.p99), String(errs) + (r.warmupNon2xx ? ` (+${r.warmupNon2xx} in warm-up)` : ''),
      floorName, floor ? fmtRate(floor) : '—', pct(ratio), `≥ ${Math.round(target * 100)} %${extra}`, pass === undefined ? 'n/a' : pass ? 'PASS' : '**FAIL**',
      r.serverCores?.toFixed(2) ?? '—']);
    if (pass !== undefined) verdicts.push({ what: `${label}: ${pct(ratio)} of ${floorName} (target ≥ ${Math.round(target * 100)} %)`, pass });
  };
  const healthz = s.healthz;
  if (healthz) {
    rows.push(['GET /healthz (no authentication: headers, access log, metrics only)', fmtRate(healthz.okRps), fmtMs(healthz.latencyMs.p50), fmtMs(healthz.latencyMs.p99),
      String(healthz.non2xx + healthz.errors + healthz.timeouts), 'bare /hello', hello ? fmtRate(hello) : '—', pct(hello ? healthz.okRps / hello : undefined), '(info)', 'n/a',
      healthz.serverCores?.toFixed(2) ?? '—']);
  }
  add('GET /me, hot tokens (1 000, reused)', s['me-hot'], 'bare /hello', hello, 0.5);
  if (healthz && s['me-hot']) {
    verdicts.push({ note: true, what: `GET /healthz, which authenticates nothing, reaches ${pct(hello ? healthz.okRps / hello : undefined)} of bare /hello; hot GET /me reaches ${pct(s['me-hot'].okRps / healthz.okRps)} of GET /healthz` });
  }
  add('GET /me, cold tokens (each once)', s['me-cold'], 'jose verify', jose, 0.85);
  add('POST /login', s.login, 'argon2 bound', bound, 0.9);
  add('POST /refresh (fresh token each)', s.refresh, 'bare /hello', hello, 0.25);
  add('POST /register', s.register, 'argon2 bound', bound, 0.9);
  const mul = s['me-under-login'];
  if (mul) {
    const errs = mul.non2xx + mul.errors + mul.timeouts;
    const pass = mul.latencyMs.p99 != null && mul.latencyMs.p99 <= 10;
    rows.push([`GET /me at ${ME_RATE}/s while /login is saturated`, fmtRate(mul.okRps), fmtMs(mul.latencyMs.p50), fmtMs(mul.latencyMs.p99), String(errs),
      '—', '—', '—', 'p99 ≤ 10 ms', pass ? 'PASS' : '**FAIL**', mul.serverCores?.toFixed(2) ?? '—']);
    const lr = mul.login;
    rows.push(['… the saturating POST /login', fmtRate(lr.okRps), fmtMs(lr.latencyMs.p50), fmtMs(lr.latencyMs.p99), String(lr.non2xx + lr.errors + lr.timeouts),
      'argon2 bound', bound ? fmtRate(bound) : '—', pct(bound ? lr.okRps / bound : undefined), '(info)', 'n/a', '']);
    verdicts.push({ what: `GET /me p99 while /login is saturated: ${fmtMs(mul.latencyMs.p99)} ms (target ≤ 10 ms)`, pass });
  }
  const rssMax = Math.max(...Object.values(res.rss).filter((x) => x && typeof x === 'object' && x !== res.rss.started).map((x) => x.rssMb));
  if (res.rss.endOfLoad) {
    verdicts.push({
      what: `RSS after the run: ${mb(res.rss.final.rssMb)} once the server was idle (target ≤ 120 MB); ${mb(rssMax)} at most while loaded, ${mb(res.rss.final.hwmMb)} peak (VmHWM)`,
      pass: res.rss.final.rssMb <= 120,
    });
  }
  const allScen = Object.entries(s).flatMap(([k, r]) => (r.login ? [[k, r], [`${k} (login)`, r.login]] : [[k, r]]));
  const totalErrs = allScen.reduce((a, [, r]) => a + r.non2xx + r.errors + r.timeouts + (r.warmupNon2xx ?? 0), 0);
  if (allScen.length) verdicts.push({ what: `non-2xx responses and errors over all scenarios: ${totalErrs} (target 0)`, pass: totalErrs === 0 });

  const noisy = [
    ...(f.rounds ?? []).flatMap((rd, i) => [[`floor /hello (${i ? 'after' : 'before'})`, rd.hello], [`floor jose (${i ? 'after' : 'before'})`, rd.jose]]),
    ...Object.entries(s)]
    .map(([k, r]) => [k, r.machineCores === undefined ? 0 : r.machineCores - r.serverCores - (r.dbCores ?? 0) - r.loadgenCores - (r.login?.loadgenCores ?? 0)])
    .filter(([, o]) => o > 0.25);
  if (noisy.length) {
    verdicts.push({ note: true, what: `noise: other processes on the machine used ${noisy.map(([k, o]) => `${o.toFixed(2)} cores during ${k}`).join(', ')} (of ${CORES}); those figures are low by about that share` });
  }
  const header = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx / errors', 'floor', 'floor req/s', 'ratio', 'target', 'result', 'server cores'];
  const mdTable = (hdr, body) => [`| ${hdr.join(' | ')} |`, `|${hdr.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');

  const other = (r) => (r.machineCores === undefined ? '—'
    : Math.max(0, r.machineCores - r.serverCores - (r.dbCores ?? 0) - r.loadgenCores - (r.login?.loadgenCores ?? 0)).toFixed(2));
  const floorRows = [];
  (f.rounds ?? []).forEach((rd, i) => {
    const when = i === 0 ? 'before' : 'after';
    const used = (x, y) => (x === y ? ' ✓' : '');
    floorRows.push([`bare Fastify \`GET /hello\` (${when})${used(rd.hello, f.hello)}`, fmtRate(rd.hello.okRps), fmtMs(rd.hello.latencyMs.p50), fmtMs(rd.hello.latencyMs.p99), String(rd.hello.non2xx + rd.hello.errors),
      `${rd.hello.total.toLocaleString('en-US')} requests in ${rd.hello.duration} s; floor ${rd.hello.serverCores.toFixed(2)} cores, autocannon ${rd.hello.loadgenCores.toFixed(2)}, others ${other(rd.hello)}`]);
    floorRows.push([`Fastify + jose EdDSA \`jwtVerify\`, each token once (${when})${used(rd.jose, f.jose)}`, fmtRate(rd.jose.okRps), fmtMs(rd.jose.latencyMs.p50), fmtMs(rd.jose.latencyMs.p99), String(rd.jose.non2xx + rd.jose.errors),
      `${rd.jose.total.toLocaleString('en-US')} tokens in ${rd.jose.duration} s; floor ${rd.jose.serverCores.toFixed(2)} cores, autocannon ${rd.jose.loadgenCores.toFixed(2)}, others ${other(rd.jose)}`]);
    const a = rd.argon2;
    floorRows.push([`argon2id verify, m=${a.params.memoryKib} KiB t=${a.params.timeCost} p=${a.params.parallelism} (${when})${used(a, f.argon2)}`, `bound ${fmtRate(a.boundPerSecond)}`, `${fmtMs(a.medianMs)} (median of ${a.runs})`, '—', '—',
      `bound = ${CORES} cores ÷ ${fmtMs(a.medianMs)} ms; min ${fmtMs(a.minMs)} ms; ${CORES} verifies in flight: ${fmtRate(a.parallelPerSecond)}/s`]);
  });

  const rssRows = [
    ['after start-up', res.rss.started],
    ['after setup (100 users, 1 000 sessions)', res.rss.afterSetup],
    ['at the end of the load', res.rss.endOfLoad],
    [`after ${res.sessions.toLocaleString('en-US')} sessions exist`, res.rss.afterSessions],
    [`after the run (server idle, ${res.rss.idleAfterMs} ms later)`, res.rss.final],
  ].filter(([, v]) => v).map(([k, v]) => [k, mb(v.rssMb), mb(v.anonMb), mb(v.fileMb), v.heapTotalMb ? `${mb(v.heapUsedMb)} of ${mb(v.heapTotalMb)}` : '—', mb(v.hwmMb)]);

  const detailRows = [
    ...Object.entries(s),
  ].map(([k, r]) => [k, String(r.total), String(r.duration), String(r.connections) + (r.overallRate ? ` @ ${r.overallRate}/s` : ''),
    fmtMs(r.latencyMs.p90), fmtMs(r.latencyMs.max), String(r.latencyMs.autocannonP99 ?? '—'), JSON.stringify(r.statusCodes),
    r.serverCores?.toFixed(2) ?? '—', ...(args.pg ? [r.dbCores?.toFixed(2) ?? '—'] : []), r.loadgenCores.toFixed(2) + (r.login ? ` + ${r.login.loadgenCores.toFixed(2)}` : ''), other(r)]);

  const envShown = Object.entries(res.serverEnv).filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${k === 'PORT' ? '(free port)' : k === 'DATABASE_URL' && dbKind === 'sqlite' ? 'file:(fresh temp file)' : v}`);

  const md = [
    `<!-- Generated by \`${cli}\` (bench/run.mjs). Do not edit: run it again. -->`,
    `# Gatehouse benchmark (${dbKind === 'sqlite' ? 'SQLite' : 'PostgreSQL + Redis'})`,
    '',
    `Command: \`${cli}\`  `,
    `Date: ${facts.date}; git ${facts.git}  `,
    `Machine: ${facts.cores} cores (${facts.model}), ${facts.memGb.toFixed(0)} GiB, Linux ${facts.kernel}, Node ${facts.node}, autocannon ${facts.autocannon}  `,
    `CPU busy with other processes just before the run: ${(res.busyBefore * 100).toFixed(0)} %; load average before / after: ${res.loadavg.before.map((x) => x.toFixed(2)).join(' ')} / ${res.loadavg.after.map((x) => x.toFixed(2)).join(' ')}  `,
    `Server: \`node ${SERVER_NODE_FLAGS.join(' ')} dist/cli.js serve\` (a child process, as \`npm start\` runs it), database ${dbKind}, LOG_LEVEL=${logLevel}${logLevel === 'info' ? ' (the default: one JSON line per request, to a file)' : ' (--quiet-logs)'}, argon2 at its defaults, ${(res.logBytes / 2 ** 20).toFixed(1)} MiB of log written  `,
    `Load: autocannon in a separate process per run, ${CONNECTIONS} connections, ${WARMUP} s warm-up then ${DURATION} s per scenario (cold /me sized by token count); latencies of 2xx answers`,
    '',
    '## Results',
    '',
    mdTable(header, rows),
    '',
    '## Targets (issue 6)',
    '',
    ...verdicts.map((v) => `- ${v.note ? 'NOTE' : v.pass ? 'PASS' : '**FAIL**'}: ${v.what}`),
    '',
    '## Floors (same run, same machine: before the server started and after it stopped; ✓ = the better one, used for the ratios)',
    '',
    mdTable(['floor', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'detail'], floorRows),
    '',
    '## Memory of the server process (VmRSS; VmHWM is the peak so far)',
    '',
    'RSS is anonymous memory (the V8 heap, native allocations: SQLite, argon2, buffers) plus file-backed pages (mostly the `node` binary\'s code, shared with every other Node process). The V8 heap figures come from the server\'s `/metrics`.',
    '',
    mdTable(['when', 'RSS', 'anonymous', 'file-backed', 'V8 heap used of total', 'peak'], rssRows),
    '',
    '## Details',
    '',
    mdTable(['run', 'requests', 'seconds', 'connections', 'p90 ms', 'max ms', 'autocannon p99 ms', 'status codes', 'server cores', ...(args.pg ? ['PostgreSQL + Redis cores'] : []), 'load generator cores', 'other processes\' cores'], detailRows),
    '',
    `Server environment: \`${envShown.join(' ')}\``,
    '',
    'How each figure is made:',
    '- Every load runs in its own forked process (bench/load.mjs), never in the server\'s; the server, the load generator and the floors share the machine\'s cores, as the floors did when they were measured.',
    '- `/healthz`: the same request each time; Gatehouse\'s per-request work (six security headers, one access-log line, two Prometheus observations) without authentication or database.',
    '- Hot `/me`: 1 000 access tokens (100 users × 10 logins), each sent once first, then pre-built requests cycled round robin on each connection, each connection from its own offset (not in step).',
    '- `/refresh`: a pool of the 1 000 sessions\' refresh tokens; each request takes a token out and never reuses it, each answer puts its rotated token back.',
    '- Cold `/me`: the access tokens minted by the `/refresh` runs, each sent once (so its length depends on the refresh rate); the jose floor likewise sends each of its pre-signed tokens once.',
    '- `/login` cycles the 100 users; `/register` sends a unique username per request. Each verify or hash is one argon2id at the default cost; the bound is cores ÷ single-verify time.',
    `- \`/me\` under \`/login\`: ${CONNECTIONS} connections of logins, and /me at a fixed ${ME_RATE} req/s on ${ME_CONNECTIONS} connections from another process, started 1 s after the logins.`,
    `- Server cores: CPU time of the server process (all threads) ÷ wall time of the measured run; load generator cores likewise for the autocannon process${args.pg ? '; PostgreSQL + Redis cores for every postgres and redis-server process' : ''}; other processes' cores: the rest of the machine's busy time (/proc/stat) over the same run (noise from outside the benchmark).`,
    ...res.notes.map((n) => `- ${n}`),
    '',
  ];

  const txt = [header, ...rows].map((r) => r.map((c, i) => String(c).replace(/\*\*/g, '').padEnd([40, 9, 7, 7, 16, 13, 11, 8, 12, 7, 6][i] ?? 8)).join(' ')).join('\n');
  const txtFloors = floorRows.map((r) => `  floor ${r[0].replace(/`/g, '')}: ${r[1]}${r[1].startsWith('bound') ? '/s' : ' req/s'}, p50 ${r[2]} ms`).join('\n');
  const txtRss = rssRows.map((r) => `  RSS ${r[0]}: ${r[1]} (anonymous ${r[2]}, file-backed ${r[3]}, V8 heap ${r[4]}; peak ${r[5]})`).join('\n');
  const txtVerdicts = verdicts.map((v) => `  ${v.note ? 'NOTE' : v.pass ? 'PASS' : 'FAIL'} ${v.what}`).join('\n');
  return { markdown: md.join('\n'), table: `${txt}\n\n${txtFloors}\n${txtRss}\n\n${txtVerdicts}\n` };
}

main()
  .catch(async (error) => {
    log(`FAILED: ${error.stack ?? error}`);
    process.exitCode = 1;
    if (server) await stopChild(server, 5000);
    await pgCleanup();
  })
  .finally(() => {
    killAll();
    if (!args.keep) rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  });
