/**
 * The fixtures (100 users, each logged in 10 times: 1 000 sessions) and the load scenarios,
 * each a warm-up then a measured run by bench/load.mjs in its own process, with the server's
 * CPU over the measured run; then logins up to the sessions target, for the memory figures.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { measureRefreshPages } from './floors.js';
import { fmtMs, fmtRate, log } from './log.js';
import { cpuMeter, memory } from './meters.js';
import { PASSWORD, runs } from './options.js';
import { load, pmap, sleep } from './processes.js';
import { nowUs, type RunState } from './run-state.js';
import type { Server } from './server.js';
import type { LoadResult, LoadSpec, ScenarioResult } from './types.js';

export interface User {
  username: string;
  password: string;
}

export interface Fixtures {
  users: User[];
  /** JSON array of the users (for the login loads). */
  usersFile: string;
  /** The 1 000 sessions' access tokens, one a line. */
  hotFile: string;
  /** The 1 000 sessions' refresh tokens, one a line. */
  poolFile: string;
}

interface TokenPair {
  access_token: string;
  refresh_token: string;
}

/** 100 users, each logged in 10 times -> 1 000 sessions / token pairs. */
export async function setupFixtures(run: RunState, server: Server): Promise<Fixtures> {
  const { o, tmp, results } = run;
  const { url } = server;
  log('setup: register 100 users, log each in 10 times (1 000 sessions)');
  const users: User[] = Array.from({ length: 100 }, (_, i) => ({ username: `bs${o.runId}_${i}`, password: PASSWORD }));
  await pmap(users.length, 4, async (i) => {
    const u = users[i]!;
    const r = await fetch(`${url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: u.username, email: `${u.username}@bench.example`, password: u.password }),
    });
    // 2xx: the original service (and Gatehouse before the compatibility fix, --server-root) answered 201.
    if (!r.ok) throw new Error(`setup register ${r.status}: ${await r.text()}`);
  });
  const pairs = new Array<TokenPair>(1000);
  await pmap(1000, 8, async (i) => {
    const u = users[i % users.length]!;
    const r = await fetch(`${url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: u.username, password: u.password }),
    });
    if (r.status !== 200) throw new Error(`setup login ${r.status}: ${await r.text()}`);
    pairs[i] = (await r.json()) as TokenPair;
  });
  results.sessions = 1000;
  const usersFile = path.join(tmp, 'users.json');
  writeFileSync(usersFile, JSON.stringify(users));
  const hotFile = path.join(tmp, 'hot-tokens.txt');
  writeFileSync(hotFile, pairs.map((p) => p.access_token).join('\n'));
  const poolFile = path.join(tmp, 'refresh-pool.txt');
  writeFileSync(poolFile, pairs.map((p) => p.refresh_token).join('\n'));
  results.rss.afterSetup = await memory(server.pid, url);
  return { users, usersFile, hotFile, poolFile };
}

interface Collected {
  pool: string[];
  accessTokens: string[];
  lost: number;
}

const warmupErrors = (warm: LoadResult) => warm.non2xx + warm.errors + warm.timeouts;

/** Warm-up, then the measured run (by time, or by count when `amount` is given), with the server's CPU use over the measured run. */
export async function measuredScenario(
  run: RunState,
  server: Server,
  name: string,
  spec: Omit<LoadSpec, 'url' | 'connections'>,
  /** null: no warm-up. */
  warmSpec: Omit<LoadSpec, 'url' | 'connections'> | null = spec,
): Promise<{ warm: LoadResult | undefined; r: ScenarioResult }> {
  const { o, results, windows } = run;
  const base = { url: server.url, connections: o.connections };
  let warm: LoadResult | undefined;
  if (warmSpec) {
    log(`scenario ${name}: warm-up`);
    warm = await load({ ...base, duration: o.warmup, ...warmSpec });
  }
  log(`scenario ${name}: measure`);
  const stop = cpuMeter(server.pid, o.pg);
  const win0 = nowUs();
  const r: ScenarioResult = await load({ ...base, ...(spec.amount ? {} : { duration: o.duration }), ...spec });
  Object.assign(r, stop());
  r.memoryAfter = await memory(server.pid, server.url);
  windows.push({ name, span: [win0, nowUs()] });
  if (warm) r.warmupNon2xx = warmupErrors(warm);
  results.scenarios[name] = r;
  log(
    `  ${fmtRate(r.okRps)}/s, p50 ${fmtMs(r.latencyMs.p50)} ms, p99 ${fmtMs(r.latencyMs.p99)} ms, server ${r.serverCores!.toFixed(2)} cores (${fmtMs(serverCpuMsPer(r))} ms of CPU each), load generator ${r.loadgenCores.toFixed(2)} cores${r.reconnects ? `, ${r.reconnects} reconnects` : ''}`,
  );
  return { warm, r };
}

/** Server CPU per completed request (or flow), in ms, over a measured run. */
export const serverCpuMsPer = (r: ScenarioResult): number | undefined => (r.serverSeconds === undefined || r.ok === 0 ? undefined : (r.serverSeconds * 1000) / r.ok);

/** Every load scenario that --only selects, in order; results in run.results.scenarios. */
export async function runScenarios(run: RunState, server: Server, fx: Fixtures): Promise<void> {
  const { o, tmp, results, windows } = run;
  const { url, pid } = server;
  const { usersFile, hotFile } = fx;
  let { poolFile } = fx;
  const base = { url, connections: o.connections };
  const meter = () => cpuMeter(pid, o.pg);

  const scenario = (name: string, spec: Omit<LoadSpec, 'url' | 'connections'>, warmSpec = spec) => measuredScenario(run, server, name, spec, warmSpec);

  if (runs(o, 'healthz')) {
    // Gatehouse's own per-request work and nothing else (security headers, the access-log
    // line, the metrics; no authentication, no database): the floor under every route.
    await scenario('healthz', { kind: 'static', path: '/healthz' });
  }
  if (runs(o, 'me-hot', 'me-under-login')) {
    // "Hot" means every token of the working set has been seen: one pass over all of them
    // first (each once), then the timed warm-up and the measured run.
    log('hot tokens: one pass over the 1 000 tokens');
    await load({ ...base, kind: 'cold', path: '/me', tokensFile: hotFile, start: 0, amount: 1000 });
  }
  if (runs(o, 'me-hot')) {
    await scenario('me-hot', { kind: 'hot', path: '/me', tokensFile: hotFile });
  }

  let coldTokens: string[] = [];
  if (runs(o, 'refresh', 'me-cold')) {
    // Each refresh token is used exactly once: the pool starts with the 1 000 sessions'
    // tokens and takes back the rotated token of each answer. The access tokens of the
    // answers are the cold tokens of me-cold (never presented to the server before).
    const warmOut = path.join(tmp, 'refresh-warm.json');
    const runOut = path.join(tmp, 'refresh-run.json');
    log('scenario refresh: warm-up');
    const warm = await load({ ...base, kind: 'refresh', poolFile, collectFile: warmOut, collectMax: 400000, duration: o.warmup });
    const w = JSON.parse(readFileSync(warmOut, 'utf8')) as Collected;
    poolFile = path.join(tmp, 'refresh-pool-2.txt');
    writeFileSync(poolFile, w.pool.join('\n'));
    log('scenario refresh: measure');
    const stop = meter();
    const win0 = nowUs();
    const r: ScenarioResult = await load({ ...base, kind: 'refresh', poolFile, collectFile: runOut, collectMax: 400000, duration: o.duration });
    Object.assign(r, stop());
    windows.push({ name: 'refresh', span: [win0, nowUs()] });
    r.warmupNon2xx = warmupErrors(warm);
    const c = JSON.parse(readFileSync(runOut, 'utf8')) as Collected;
    r.poolLeft = c.pool.length;
    r.poolExhausted = c.lost;
    results.scenarios.refresh = r;
    log(`  ${fmtRate(r.okRps)} req/s, p50 ${fmtMs(r.latencyMs.p50)} ms, p99 ${fmtMs(r.latencyMs.p99)} ms, non-2xx ${r.non2xx}, server ${r.serverCores!.toFixed(2)} cores`);
    coldTokens = [...w.accessTokens, ...c.accessTokens];
    // Target 3's floor writes as many pages as one rotation: count them on this server.
    if (!o.pg) await measureRefreshPages(run, url, server.env.DATABASE_URL!.replace(/^file:/, ''), c.pool);
  }

  if (runs(o, 'me-cold')) {
    const coldFile = path.join(tmp, 'cold-tokens.txt');
    writeFileSync(coldFile, coldTokens.join('\n'));
    const warmN = Math.min(5000, Math.floor(coldTokens.length / 10));
    const n = coldTokens.length - warmN;
    if (n < o.connections * 10) throw new Error(`me-cold: only ${coldTokens.length} cold tokens were minted by /refresh`);
    log(`scenario me-cold: warm-up (${warmN} tokens), measure (${n} tokens, each sent once)`);
    const warm = await load({ ...base, kind: 'cold', path: '/me', tokensFile: coldFile, start: 0, amount: warmN });
    const stop = meter();
    const win0 = nowUs();
    const r: ScenarioResult = await load({ ...base, kind: 'cold', path: '/me', tokensFile: coldFile, start: warmN, amount: n });
    Object.assign(r, stop());
    windows.push({ name: 'me-cold', span: [win0, nowUs()] });
    r.warmupNon2xx = warmupErrors(warm);
    results.scenarios['me-cold'] = r;
    log(`  ${fmtRate(r.okRps)} req/s over ${r.duration} s, p50 ${fmtMs(r.latencyMs.p50)} ms, p99 ${fmtMs(r.latencyMs.p99)} ms, non-2xx ${r.non2xx}, server ${r.serverCores!.toFixed(2)} cores`);
  }

  if (runs(o, 'login')) {
    const { warm, r } = await scenario('login', { kind: 'login', usersFile });
    results.sessions += (warm?.ok ?? 0) + r.ok;
  }

  if (runs(o, 'register')) {
    await scenario('register', { kind: 'register', prefix: `br${o.runId}_`, password: PASSWORD }, { kind: 'register', prefix: `bw${o.runId}_`, password: PASSWORD });
  }

  if (runs(o, 'me-under-login')) {
    // Logins saturate the server (all the connections) while GET /me runs at a fixed rate from
    // another process; /me starts 1 s after the logins and ends before them.
    log(`scenario me-under-login: /login saturated + /me at ${o.meRate} req/s (${o.meConnections} connections)`);
    const stop = meter();
    const win0 = nowUs();
    const loginRun = load({ ...base, kind: 'login', usersFile, start: 7, duration: o.duration + 2 });
    await sleep(1000);
    const meRun: ScenarioResult = await load({ url, kind: 'hot', path: '/me', tokensFile: hotFile, connections: o.meConnections, overallRate: o.meRate, duration: o.duration });
    const lr = await loginRun;
    Object.assign(meRun, stop());
    windows.push({ name: 'me-under-login', span: [win0, nowUs()] });
    meRun.login = lr;
    results.sessions += lr.ok;
    results.scenarios['me-under-login'] = meRun;
    log(
      `  /me ${fmtRate(meRun.okRps)} req/s, p50 ${fmtMs(meRun.latencyMs.p50)} ms, p99 ${fmtMs(meRun.latencyMs.p99)} ms, non-2xx ${meRun.non2xx}; /login ${fmtRate(lr.okRps)} req/s, non-2xx ${lr.non2xx}`,
    );
  }
}

/** Logins until the sessions target (argon2-bound, so capped in time), then the memory once they exist. */
export async function fillSessions(run: RunState, server: Server, fx: Fixtures): Promise<void> {
  const { o, results } = run;
  const fillStart = Date.now();
  const rate = results.scenarios.login?.okRps || 100;
  while (results.sessions < o.sessionsTarget && (Date.now() - fillStart) / 1000 < o.fillSeconds) {
    const left = o.fillSeconds - (Date.now() - fillStart) / 1000;
    const amount = Math.max(o.connections, Math.min(o.sessionsTarget - results.sessions, Math.ceil(rate * Math.min(10, left))));
    log(`sessions: ${results.sessions} of ${o.sessionsTarget}; logging in ${amount} more`);
    const r = await load({ url: server.url, connections: o.connections, kind: 'login', usersFile: fx.usersFile, start: results.sessions, amount, timeout: 60 });
    results.sessions += r.ok;
    if (r.ok === 0) break;
  }
  results.rss.afterSessions = await memory(server.pid, server.url);
  log(`sessions: ${results.sessions}; RSS ${results.rss.afterSessions.rssMb.toFixed(1)} MB`);
}
