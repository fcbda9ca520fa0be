/**
 * The floors, measured in the same run on the same machine, before the server starts and
 * again after it stopped (the better figure of the two is the floor: noise from other
 * processes only ever lowers a floor, which would flatter every ratio):
 * - argon2id: one verify at a time in its own process (bench/argon2-time.mjs); the bound is
 *   cores ÷ median verify time;
 * - bare Fastify GET /hello (bench/floor-hello.mjs);
 * - Fastify + jose EdDSA jwtVerify with each pre-signed token sent once (bench/floor-jose.mjs).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
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
    env: { PATH: process.env.PATH, RUNS: '30' },
    encoding: 'utf8',
  });
  if (a.status !== 0) throw new Error(`argon2-time failed: ${a.stderr}`);
  const argon2 = JSON.parse(a.stdout.trim().split('\n').pop()!) as Argon2Floor;
  argon2.boundPerSecond = (CORES * 1000) / argon2.medianMs;
  log(`  argon2id verify median ${argon2.medianMs.toFixed(2)} ms -> bound ${argon2.boundPerSecond.toFixed(0)}/s`);

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

  fl.rounds.push({ argon2, hello: helloResult, jose: joseResult });
  // The best of the rounds so far: fastest argon2 (highest bound), highest req/s.
  const best = (pick: (r: FloorRound) => number) => fl.rounds.reduce((x, y) => (pick(y) > pick(x) ? y : x));
  fl.argon2 = best((x) => x.argon2.boundPerSecond).argon2;
  fl.hello = best((x) => x.hello.okRps).hello;
  fl.jose = best((x) => x.jose.okRps).jose;
}
