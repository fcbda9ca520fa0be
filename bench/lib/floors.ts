/**
 * The floors, measured in the same run on the same machine, before the server starts and
 * again after it stopped (the better figure of the two is the floor: noise from other
 * processes only ever lowers a floor, which would flatter every ratio):
 * - argon2id in its own process (bench/argon2-time.mjs): one verify at a time (issue 6's bound,
 *   cores ÷ median verify time) and the rate with cores + 1 verifies in flight (issue 19's
 *   floor for logins and registrations);
 * - bare Fastify GET /hello (bench/floor-hello.mjs);
 * - Fastify + jose EdDSA jwtVerify with each pre-signed token sent once (bench/floor-jose.mjs);
 * - after the server only: Fastify + one Ed25519 signature + one durable SQLite write
 *   transaction of as many pages as one of the server's rotations writes (bench/floor-refresh.mjs;
 *   the page count is measured on the server by measureRefreshPages).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { fmtMs, fmtRate, log } from './log.js';
import { cpuMeter } from './meters.js';
import { BENCH, CORES, ROOT } from './options.js';
import { load, startFloor, stopChild } from './processes.js';
import type { RunState } from './run-state.js';
import type { Argon2Floor, FloorLoad, FloorRound } from './types.js';

export async function measureFloors(run: RunState, round: 0 | 1): Promise<void> {
  const { o, tmp } = run;
  const tag = round === 0 ? 'before the server' : 'after the server';
  const fl = run.results.floors;

  log(`floor (${tag}): argon2id single verify (separate process)`);
  const a = spawnSync(process.execPath, [path.join(BENCH, 'argon2-time.mjs')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, RUNS: '30', UV_THREADPOOL_SIZE: String(Math.max(4, CORES + 1)), SECONDS: o.quick ? '1.5' : '3' },
    encoding: 'utf8',
  });
  if (a.status !== 0) throw new Error(`argon2-time failed: ${a.stderr}`);
  const argon2 = JSON.parse(a.stdout.trim().split('\n').pop()!) as Argon2Floor;
  argon2.boundPerSecond = (CORES * 1000) / argon2.medianMs;
  log(`  argon2id verify median ${argon2.medianMs.toFixed(2)} ms -> bound ${argon2.boundPerSecond.toFixed(0)}/s; ${argon2.inFlight} in flight: ${argon2.inFlightPerSecond.toFixed(0)}/s`);

  log(`floor (${tag}): bare Fastify GET /hello`);
  const hello = await startFloor('floor-hello.mjs');
  const helloUrl = `http://127.0.0.1:${hello.port}`;
  await load({ kind: 'static', url: helloUrl, path: '/hello', connections: o.connections, duration: o.warmup });
  const helloMeter = cpuMeter(hello.child.pid!, o.pg);
  const helloRun = await load({ kind: 'static', url: helloUrl, path: '/hello', connections: o.connections, duration: o.duration });
  const helloResult: FloorLoad = Object.assign(helloRun, helloMeter());
  log(`  ${fmtRate(helloResult.okRps)} req/s, p50 ${fmtMs(helloResult.latencyMs.p50)} ms`);
  await stopChild(hello.child);

  // Half the pre-signed tokens in each round, each token sent once over both rounds.
  const joseTokens = path.join(tmp, 'jose-tokens.txt');
  const half = Math.floor(o.joseTokens / 2);
  log(`floor (${tag}): Fastify + jose EdDSA jwtVerify (${round === 0 ? `${o.joseTokens} tokens pre-signed; ` : ''}${half} sent, each once)`);
  const jose = await startFloor('floor-jose.mjs', {
    TOKENS: String(round === 0 ? o.joseTokens : 0),
    TOKENS_FILE: joseTokens,
    KEY_FILE: path.join(tmp, 'jose-key.json'),
  });
  const joseUrl = `http://127.0.0.1:${jose.port}`;
  const joseWarm = Math.min(5000, Math.floor(half / 10));
  const first = round * half;
  await load({ kind: 'cold', url: joseUrl, path: '/me', connections: o.connections, tokensFile: joseTokens, start: first, amount: joseWarm });
  const joseMeter = cpuMeter(jose.child.pid!, o.pg);
  const joseRun = await load({
    kind: 'cold',
    url: joseUrl,
    path: '/me',
    connections: o.connections,
    tokensFile: joseTokens,
    start: first + joseWarm,
    amount: half - joseWarm,
  });
  const joseResult: FloorLoad = Object.assign(joseRun, joseMeter());
  log(`  ${fmtRate(joseResult.okRps)} req/s, p50 ${fmtMs(joseResult.latencyMs.p50)} ms`);
  await stopChild(jose.child);

  let refresh: FloorRound['refresh'];
  if (round === 1 && fl.refreshPages !== undefined) {
    const pages = Math.max(1, Math.round(fl.refreshPages));
    log(`floor (${tag}): Fastify + Ed25519 signature + durable SQLite write transaction of ${pages} pages`);
    const floor = await startFloor('floor-refresh.mjs', { PAGES: String(pages), DB_FILE: path.join(tmp, 'floor-refresh.sqlite') });
    const floorUrl = `http://127.0.0.1:${floor.port}`;
    const spec = { kind: 'static' as const, url: floorUrl, path: '/refresh', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', connections: o.connections };
    await load({ ...spec, duration: o.warmup });
    const meter = cpuMeter(floor.child.pid!, o.pg);
    const r = await load({ ...spec, duration: o.duration });
    refresh = Object.assign(r, meter(), { pages });
    log(`  ${fmtRate(refresh.okRps)} req/s, p50 ${fmtMs(refresh.latencyMs.p50)} ms`);
    await stopChild(floor.child);
  }

  fl.rounds.push({ argon2, hello: helloResult, jose: joseResult, ...(refresh ? { refresh } : {}) });
  // The best of the rounds so far: fastest argon2 (highest bound), highest req/s.
  const best = (pick: (r: FloorRound) => number) => fl.rounds.reduce((x, y) => (pick(y) > pick(x) ? y : x));
  fl.argon2 = best((x) => x.argon2.inFlightPerSecond).argon2;
  fl.refresh = fl.rounds.find((x) => x.refresh)?.refresh;
  fl.hello = best((x) => x.hello.okRps).hello;
  fl.jose = best((x) => x.jose.okRps).jose;
}

/**
 * WAL frames (pages) one rotation writes on the server: `PRAGMA wal_checkpoint(PASSIVE)` from
 * a connection of the bench's own (a complete checkpoint, so the next write starts the WAL
 * over), then `perTrial` refreshes one at a time, then the WAL's frame count again; the
 * median of three trials. SQLite only. Uses (and rotates) tokens of `pool`.
 */
export async function measureRefreshPages(run: RunState, url: string, dbFile: string, pool: string[], perTrial = 20): Promise<void> {
  if (pool.length < 3) throw new Error('measureRefreshPages: no refresh tokens left');
  const db = new Database(dbFile, { fileMustExist: true });
  const samples: number[] = [];
  try {
    const checkpoint = () => (db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>)[0]!;
    // The server's own checkpointer may be copying a large WAL right after a load (busy,
    // or not everything copied yet): try again every 100 ms for up to 10 s.
    const deadline = Date.now() + 10_000;
    while (samples.length < 3 && Date.now() < deadline) {
      const before = checkpoint();
      if (before.busy || before.log !== before.checkpointed) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      for (let k = 0; k < perTrial; k++) {
        const token = pool.shift()!;
        const r = await fetch(`${url}/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: token }) });
        if (r.status !== 200) throw new Error(`measureRefreshPages: /refresh answered ${r.status}: ${await r.text()}`);
        pool.push(((await r.json()) as { refresh_token: string }).refresh_token);
      }
      samples.push(checkpoint().log / perTrial);
    }
  } finally {
    db.close();
  }
  if (samples.length === 0) throw new Error('measureRefreshPages: the WAL was never fully checkpointed within 10 s');
  samples.sort((a, b) => a - b);
  run.results.floors.refreshPages = samples[Math.floor(samples.length / 2)]!;
  log(`refresh: ${run.results.floors.refreshPages.toFixed(1)} WAL frames (pages) per rotation (trials: ${samples.map((x) => x.toFixed(1)).join(', ')})`);
}
