#!/usr/bin/env -S node --import tsx
// `npm run bench` (issues 6 and 19): builds, starts the real server as a child process on a
// free loopback port with a fresh database, measures the floors in the same run (bare Fastify
// GET /hello, Fastify + jose EdDSA verify, argon2id with cores + 1 verifies in flight, and
// after the server Fastify + an Ed25519 signature + a durable SQLite write of as many pages as
// one of the server's rotations), loads every scenario with autocannon from separate
// processes (the original ones, then the TOTP login and its second step alone, the passkey
// login, the authorization-code exchange and userinfo), measures the revocation delay at a
// resource server using @gatehouse/node (issue 18), counts instructions per request under
// valgrind's callgrind (issue 19 item 8), runs bench/sdk-verifier.ts, prints a table and
// writes bench/results.md with each issue 19 target, its ratio and whether it is met.
//
//   npm run bench                       SQLite (a fresh temp file); callgrind included
//   npm run bench -- --pg               PostgreSQL (fresh schema) + Redis (fresh key prefix); no callgrind
//   npm run bench -- --quiet-logs       LOG_LEVEL=warn instead of the default info
//   npm run bench -- --quick --out /tmp/bench.md
//                                       every figure but callgrind, briefly (2 s runs, 1 s
//                                       warm-ups, fewer sessions, tokens, MFA steps and logouts,
//                                       no wait for a quiet machine): proves the bench runs; no
//                                       results file unless --out is given (--callgrind adds it)
//   npm run bench -- --only callgrind --out /tmp/cg.md
//                                       instructions per request alone (healthz, hot /me,
//                                       /refresh, the MFA step), compared with bench/results.md
//   npm run bench -- --only me-hot --cpu-prof
//                                       one scenario, the server under node --cpu-prof; writes a
//                                       summary of the profile to bench/profile-<db>-<scenarios>.md
// Other flags: --duration S (10), --warmup S (2), --connections N (32), --no-build,
// --skip-floors, --sessions N (10000), --fill-seconds S (100), --me-rate R (1000),
// --revocation-logouts N (100), --mfa-steps N (2000: second steps in mfa-step's measured run; 500 lasted 0.4 s, too short a window for its CPU figure),
// --callgrind / --no-callgrind, --callgrind-requests N (200 per measurement, two measurements
// per kind), --callgrind-warmup N (300 per kind; 3000 with --callgrind-jit), --callgrind-kinds mfa-step,refresh (only these of mfa-step, healthz,
// me-hot, refresh), --callgrind-jit (count V8's optimised code instead of the interpreter's:
// production's code, but the count moves with JIT timing; the default is --jitless), --out FILE, --keep (keep the temp dir and the server log),
// --wait-quiet S (120: how long to wait for the machine's CPU to be < 15 % busy before
// starting), --db-dir DIR (where the fresh SQLite file goes, e.g. /dev/shm to take disk
// flushes out of the figures), --max-seconds S (1500; 900 with --quick: the run's bound).
// --idle-watch S (0: after the "once idle" reading, the server's memory each second for S s),
// --server-flags='--flag --flag' and --server-env=NAME=VALUE,... (more node flags or environment
// for the server, to measure one; the results record both). The server always gets the start
// script's node flags and environment (MALLOC_ARENA_MAX), as `npm start` runs it.
// --server-root DIR (measure another checkout's build, e.g. a `git worktree` of an older commit, with this
// load generator: before and after in the same hour, issue 19 item 7; it is built there unless --no-build).
// --large (SQLite): the scenarios again on a database built in bulk (200 000 users, 1 000 000
// sessions, 100 000 revoked tokens, 500 000 audit events; --large-scale F scales them) and a
// table comparing each with its small-data figures (bench/lib/large-data.ts); the run's
// bound grows by 20 minutes. Such a run writes no bench/results*.md unless --out says where.
// --only takes scenarios (healthz, me-hot, refresh, me-cold, login, register,
// me-under-login, mfa-step, mfa-login, passkey-login, code-exchange, userinfo: with hot /me
// again right after it, me-hot-late) and
// `revocation`, `callgrind`; with --only, --skip-floors or --cpu-prof nothing is written to
// bench/results*.md unless --out says where, and the SDK verifier bench runs only with --out.
//
// Every load fails the run on an answer its requests do not expect (a non-2xx, unless the
// request expects it, like the 403 mfa_required of a password step), a connection error or
// a timeout; the load generator reconnects when the server says `Connection: close`.
//
// The parts: bench/lib/options.ts (the command line), processes.ts (children, loads),
// meters.ts (/proc, /metrics), server.ts (the server under test), floors.ts, scenarios.ts,
// features.ts (MFA, passkeys, OpenID Connect), revocation.ts, callgrind.ts, report.ts (the
// results file). Loads and floors run as plain Node scripts (bench/load.mjs, floor-*.mjs,
// argon2-time.mjs; the load generator's TOTP codes and passkey assertions come from
// bench/totp-steps.mjs and bench/soft-authenticator.mjs), never in this process.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { measureCallgrind, prepareCallgrind } from './lib/callgrind.js';
import { runFeatureScenarios } from './lib/features.js';
import { measureFloors } from './lib/floors.js';
import { elapsedSeconds, log } from './lib/log.js';
import { machineBusy, machineFacts, memory, waitIdle } from './lib/meters.js';
import { BENCH, CORES, ROOT, parseOptions, runs, type Options } from './lib/options.js';
import { HASH_THREAD_IDLE_MS } from '../src/crypto/hash-pool.js';
import { armWatchdog, killAll, killChildrenOnSignals, sleep } from './lib/processes.js';
import { renderLargeComparison, runLargePass, scaled, type LargeComparison } from './lib/large-data.js';
import { readBenchData, render } from './lib/report.js';
import { measureRevocationDelay } from './lib/revocation.js';
import { newRun, type RunState } from './lib/run-state.js';
import type { Results } from './lib/types.js';
import { fillSessions, runScenarios, setupFixtures } from './lib/scenarios.js';
import { startServer, type Server } from './lib/server.js';
import { summarize } from './profile-summary.mjs';

async function main(run: RunState, current: { server?: Server }): Promise<void> {
  const { o, results } = run;
  const facts = machineFacts(o.serverRoot);
  // Wait (bounded) for the machine to be quiet: other processes would steal the cores.
  const quietDeadline = Date.now() + o.waitQuiet * 1000;
  let busy = await machineBusy(2000);
  while (busy > 0.15 && Date.now() < quietDeadline) {
    log(`machine is ${(busy * 100).toFixed(0)} % busy before the run: waiting for it to quiet down`);
    busy = await machineBusy(5000);
  }
  results.busyBefore = busy;
  if (busy > 0.15) results.notes.push(`The machine was ${(busy * 100).toFixed(0)} % busy with other processes when the run started (waited ${o.waitQuiet} s): figures are noisy, ratios less so.`);
  if (o.quick) results.notes.push('A --quick run (short runs, fewer sessions, tokens and logouts): it proves the bench runs; its figures are not the benchmark\'s.');
  const loadBefore = loadavg();
  armWatchdog(o.maxSeconds + (o.large ? 1200 : 0));
  log(`gatehouse bench: ${o.dbKind}, LOG_LEVEL=${o.logLevel}, ${o.connections} connections, ${o.warmup}s warm-up + ${o.duration}s per scenario, ${CORES} cores`);

  if (o.build) {
    log('npm run build');
    const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: o.serverRoot, stdio: 'inherit' });
    if (b.status !== 0) throw new Error(`npm run build failed (exit ${b.status})`);
  }

  // ---- floors: measured before the server starts and again after it stopped; the better
  // figure of the two is the floor (noise from other processes only ever lowers a floor,
  // which would flatter every ratio).
  if (!o.skipFloors) await measureFloors(run, 0);

  // ---- the server, the fixtures, the scenarios
  const server = await startServer(run);
  current.server = server;
  results.rss.started = await memory(server.pid, server.url);
  const fixtures = await setupFixtures(run, server);
  await runScenarios(run, server, fixtures);
  await runFeatureScenarios(run, server);
  results.rss.endOfLoad = await memory(server.pid, server.url);
  log(`RSS at the end of the load: ${results.rss.endOfLoad.rssMb.toFixed(1)} MB`);

  // ---- sessions up to the target (logins: argon2-bound, so capped in time)
  if (o.full || (runs(o, 'login') && !o.cpuProf)) await fillSessions(run, server, fixtures);
  // "After the run": once the server has finished what it was still doing (a load ends
  // with up to `cores + 1` argon2 hashes of 19 MiB each still in flight).
  results.rss.idleAfterMs = await waitIdle(server.pid);
  results.rss.idle = await memory(server.pid, server.url);
  log(`RSS after the run (server idle after ${results.rss.idleAfterMs} ms): ${results.rss.idle.rssMb.toFixed(1)} MB`);
  // "Once idle" (target 5) is read 10 s after that: what an idle server holds, not the tail
  // of the last login. By then the hashing threads beyond the first have ended (they do
  // HASH_THREAD_IDLE_MS after their last hash) and the server's idle collections
  // (runtime/idle-collection.ts: one a quiet second while each gives back 4 MiB) are done.
  const onceIdleMs = Math.max(10_000, HASH_THREAD_IDLE_MS + 1000);
  await sleep(onceIdleMs);
  results.rss.finalAfterMs = results.rss.idleAfterMs + onceIdleMs;
  results.rss.final = await memory(server.pid, server.url);
  log(`RSS once idle (${results.rss.finalAfterMs} ms after the load): ${results.rss.final.rssMb.toFixed(1)} MB`);
  if (o.idleWatchSeconds > 0) {
    // What the heap does after that (V8's memory reducer, the idle collections): one sample a second.
    results.rss.watch = [];
    for (let s = 1; s <= o.idleWatchSeconds; s++) {
      await sleep(1000);
      results.rss.watch.push([s, await memory(server.pid, server.url)]);
    }
    const last = results.rss.watch.at(-1)![1];
    log(`RSS ${o.idleWatchSeconds} s later (--idle-watch): ${last.rssMb.toFixed(1)} MB, V8 heap ${last.heapTotalMb?.toFixed(1)} MB`);
  }
  results.loadavg = { before: loadBefore, after: loadavg() };
  results.logBytes = statSync(server.logFile).size;

  // ---- the revocation delay: after every figure above, so that it changes none of them
  if (runs(o, 'revocation')) results.revocation = await measureRevocationDelay(run, server, fixtures.users[0]!);

  // ---- instructions per request: the server again, under callgrind, on the same database
  const withCallgrind = o.callgrind && !o.pg;
  if (o.callgrind && o.pg) results.notes.push('Instructions per request (callgrind) are measured on SQLite runs only.');
  const cgInputs = withCallgrind ? await prepareCallgrind(run, server, fixtures.hotFile, fixtures.users[1]!) : undefined;

  await server.stop();
  current.server = undefined;
  if (cgInputs) await measureCallgrind(run, server, cgInputs);
  await server.cleanup();
  const large: LargeComparison | undefined = o.large ? await runLargePass(run, current, scaled(o.largeScale)) : undefined;
  if (!o.skipFloors) await measureFloors(run, 1);

  if (o.full || o.out) results.sdk = sdkBench(o);
  const out = o.out ?? (o.full && !o.quick ? path.join(BENCH, o.pg ? 'results-pg.md' : 'results.md') : undefined);
  // The previous results file (the one this run replaces, or the committed one): its rates and instruction counts.
  const previousFile = out && existsSync(out) ? out : path.join(BENCH, o.pg ? 'results-pg.md' : 'results.md');
  const previous = existsSync(previousFile) ? readBenchData(readFileSync(previousFile, 'utf8')) : undefined;
  const profile = server.profDir ? summarizeProfile(run, server.profDir) : undefined;
  const report = render(o, facts, results, previous);
  if (large) {
    const section = renderLargeComparison(large);
    report.markdown += `\n${section}`;
    report.table += `\n\n${section}`;
  }
  process.stdout.write(`\n${report.table}\n`);
  if (out) {
    writeFileSync(out, report.markdown);
    log(`wrote ${path.relative(ROOT, out)}`);
  } else if (o.quick) {
    log('--quick: no results file written (--out FILE writes one)');
  }
  if (profile) {
    const pf = path.join(BENCH, `profile-${o.dbKind}${o.onlyArg ? `-${o.only.join('+')}` : ''}.md`);
    writeFileSync(
      pf,
      `<!-- generated by \`${o.cli}\`; do not edit -->\n# CPU profile of the server (${o.dbKind}, LOG_LEVEL=${o.logLevel}, git ${machineFacts(o.serverRoot).git})\n\nnode --cpu-prof on the server process; samples of each measured run only. Profiling slows the server, so the rates of such a run are not the benchmark's.\n\n${profile.text}\n`,
    );
    log(`wrote ${path.relative(ROOT, pf)} (profile ${profile.file}, not committed)`);
  }
  log(`done in ${elapsedSeconds().toFixed(0)} s`);
}

/** The newest .cpuprofile, one section per measured run (set-up and warm-ups left out). */
function summarizeProfile(run: RunState, profDir: string): { file: string; text: string } | undefined {
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is the event loop; the
  // hashing pool's worker threads write profiles of their own.
  const files = readdirSync(profDir)
    .filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f))
    .map((f) => path.join(profDir, f));
  files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!files[0]) return undefined;
  const data: unknown = JSON.parse(readFileSync(files[0], 'utf8'));
  const text = run.windows.map((w) => `## ${w.name}\n\n${summarize(data, 25, [w.span])}`).join('\n\n');
  return { file: path.relative(ROOT, files[0]), text };
}

/**
 * `npm run bench:sdk` (bench/sdk-verifier.ts) in its own process: bench/results-sdk.md, or
 * beside --out's file; a --quick run measures 1 s each. Its figures (verifications/s) for
 * target 6.
 */
function sdkBench(o: Options): Results['sdk'] {
  const sdkOut = o.out ? o.out.replace(/(\.md)?$/, '-sdk.md') : o.quick ? undefined : path.join(BENCH, 'results-sdk.md');
  const json = path.join(run.tmp, 'sdk.json');
  const args = ['--import', 'tsx', path.join(BENCH, 'sdk-verifier.ts'), ...(o.quick ? ['--seconds', '1'] : []), '--out', sdkOut ?? '/dev/null', '--json', json];
  log(`npm run bench:sdk: the verifier's hot-token throughput${sdkOut ? ` (${path.relative(ROOT, sdkOut)})` : ''}`);
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`bench/sdk-verifier.ts failed (exit ${r.status})`);
  return JSON.parse(readFileSync(json, 'utf8')) as Results['sdk'];
}

const run = newRun(parseOptions());
const current: { server?: Server } = {};
killChildrenOnSignals();
main(run, current)
  .catch(async (error: unknown) => {
    log(`FAILED: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
    if (current.server) {
      await current.server.stop(5000);
      await current.server.cleanup();
    }
  })
  .finally(() => {
    killAll();
    if (!run.o.keep) rmSync(run.tmp, { recursive: true, force: true });
    else log(`kept ${run.tmp}`);
  });
