/**
 * Instructions per request (issue 19 item 8): a figure that survives a change of machine.
 * The server runs under valgrind's callgrind with collection off at start-up
 * (--instr-atstart=no) on the database the run made; for each request kind a warm-up (JIT,
 * caches), then `callgrind_control -i on` around a fixed number of requests sent one at a
 * time, `-i off`, a dump, and the event loop's (thread 1's) total Ir ÷ the requests; every
 * thread's is shown beside it. Each kind is measured twice in a row, so the results show
 * how repeatable it is.
 *
 * What it needs from the run's server is made before that server stops (prepareCallgrind):
 * hot access tokens, a refresh token to rotate, and mfa_tokens from real password steps
 * (argon2 under valgrind would take minutes; the second step's code is computed when sent).
 * The MFA kind runs first: mfa_tokens live MFA_TOKEN_TTL_SECONDS (300 s by default).
 *
 * V8 runs --jitless by default: the interpreter's count is the same, run after run and build
 * after build, for the same work (two builds agreed within 0.5 % on /healthz and hot /me),
 * while with the JIT the same build counted /healthz at 0.23 M and 0.33 M instructions in two
 * runs: which code V8 optimises, and when, moves with valgrind's slow and load-dependent
 * clock. --callgrind-jit counts production's optimised code instead (3 000 warm-up requests;
 * --smc-check=all-non-file lets valgrind see the code V8 writes); compare such counts only
 * over several runs.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { loadTotpState, reserveStepFor, saveTotpState } from '../totp-steps.mjs';
import { setupTotpUsers } from './features.js';
import { log } from './log.js';
import { PASSWORD } from './options.js';
import { freePort, load, sleep, stopChild, track } from './processes.js';
import type { RunState } from './run-state.js';
import type { Server } from './server.js';
import type { CallgrindResults } from './types.js';

export interface CallgrindInputs {
  hotTokens: string[];
  refreshToken: string;
  mfaTokens: Array<{ token: string; index: number }>;
  totpFile: string;
}

const execFileAsync = promisify(execFile);
const KINDS = ['mfa-step', 'healthz', 'me-hot', 'refresh'] as const;
const REPEATS = 2;

/** The kinds --callgrind-kinds names (all of them when it names none), in KINDS' order. */
function measuredKinds(named: string[]): readonly (typeof KINDS)[number][] {
  return named.length > 0 ? KINDS.filter((k) => named.includes(k)) : KINDS;
}

/** On the run's server, before it stops: what the measured requests send. */
export async function prepareCallgrind(run: RunState, server: Server, hotFile: string, user: { username: string }): Promise<CallgrindInputs> {
  const { o, tmp } = run;
  const hotTokens = readFileSync(hotFile, 'utf8').split('\n').filter(Boolean).slice(0, o.callgrindRequests);
  const r = await fetch(`${server.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user.username, password: PASSWORD }) });
  if (r.status !== 200) throw new Error(`callgrind: login ${r.status}: ${await r.text()}`);
  const refreshToken = ((await r.json()) as { refresh_token: string }).refresh_token;
  // The MFA kind's inputs only when it is measured (a --server-root build from before MFA has none).
  if (!measuredKinds(o.callgrindKinds).includes('mfa-step')) return { hotTokens, refreshToken, mfaTokens: [], totpFile: '' };
  const totpFile = run.totpFile ?? (await setupTotpUsers(run, server, 0));
  run.totpFile = totpFile;
  const n = o.callgrindWarmup + REPEATS * o.callgrindRequests;
  const tokensFile = path.join(tmp, 'callgrind-mfa-tokens.txt');
  log(`callgrind: ${n} password steps on the run's server for the MFA kind's mfa_tokens`);
  await load({ url: server.url, connections: o.connections, kind: 'mfa-password', totpFile, collectFile: tokensFile, amount: n, timeout: 60 });
  const mfaTokens = readFileSync(tokensFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { token: string; index: number });
  return { hotTokens, refreshToken, mfaTokens, totpFile };
}

function totalIr(dumpFile: string): number {
  const text = readFileSync(dumpFile, 'utf8');
  // "totals:" is the dump's total (its "summary:" line can be 0 with collection toggled).
  const m = /^totals:\s*(\d+)/m.exec(text) ?? /^summary:\s*(\d+)/m.exec(text);
  if (!m) throw new Error(`callgrind: no totals in ${dumpFile}`);
  return Number(m[1]);
}

/** After the run's server stopped, on its database: the counts (run.results.callgrind). */
export async function measureCallgrind(run: RunState, server: Server, inputs: CallgrindInputs): Promise<void> {
  const { o, tmp, results } = run;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const outBase = path.join(tmp, 'callgrind.out');
  // --separate-threads: one dump per thread, so the event loop's own instructions (thread 1)
  // are counted apart from the background threads' (V8's compiler and GC helpers, the WAL
  // checkpointer), whose work comes in bursts that no run of 200 requests averages out.
  const valgrindFlags = ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', '--separate-threads=yes'];
  const nodeFlags = [...o.serverNodeFlags, ...(o.callgrindJitless ? ['--jitless'] : [])];
  const logFile = path.join(tmp, 'server-callgrind.log');
  const logFd = openSync(logFile, 'w');
  log(`callgrind: valgrind ${valgrindFlags.join(' ')} node ${nodeFlags.join(' ')} dist/cli.js serve (start-up takes a while)`);
  // The same issuer as the run's server (PUBLIC_URL defaults to http://HOST:PORT), so its tokens verify here.
  const env: Record<string, string> = { ...server.env, PORT: String(port), PUBLIC_URL: server.url };
  // valgrind and vgdb (behind callgrind_control) name their pipes after $LOGNAME/$USER and
  // $HOST, and the server's HOST is its listen address: callgrind_control must see the same.
  const ctlEnv: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const k of ['LOGNAME', 'USER', 'HOST'] as const) if (env[k] !== undefined) ctlEnv[k] = env[k]!;
  const child = track(
    spawn('valgrind', [...valgrindFlags, `--callgrind-out-file=${outBase}.%p`, process.execPath, ...nodeFlags, path.join(run.o.serverRoot, 'dist/cli.js'), 'serve'], {
      cwd: tmp,
      env,
      stdio: ['ignore', logFd, logFd],
    }),
  );
  closeSync(logFd);
  const pid = child.pid!;
  // callgrind_control answers "OK." once valgrind has carried the command out; a process
  // asleep in a system call sees commands only when it wakes up, so a /healthz request
  // (not counted: collection is off, or about to be switched on) wakes it when needed.
  const ctl = async (...args: string[]) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const wake = setTimeout(() => void fetch(`${url}/healthz`).catch(() => undefined), 2000);
      let out: string;
      try {
        const r = await execFileAsync('callgrind_control', [...args, String(pid)], { encoding: 'utf8', timeout: 120_000, env: ctlEnv });
        out = r.stdout + r.stderr;
        if (/OK/.test(r.stdout)) return;
      } catch (error) {
        out = String((error as Error).message);
      } finally {
        clearTimeout(wake);
      }
      log(`  callgrind_control ${args.join(' ')}: ${out.trim().split('\n').pop()}; again`);
      await sleep(1000);
    }
    throw new Error(`callgrind_control ${args.join(' ')} failed`);
  };
  try {
    const deadline = Date.now() + 300_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`callgrind: the server exited (${child.exitCode}): ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new Error('callgrind: the server was not healthy in 300 s');
      await sleep(500);
    }
    const totp = inputs.totpFile ? loadTotpState(inputs.totpFile) : undefined;
    let mfaNext = 0;
    let refreshToken = inputs.refreshToken;
    let hotNext = 0;
    const json = { 'content-type': 'application/json' };
    const send: Record<(typeof KINDS)[number], () => Promise<Response>> = {
      healthz: () => fetch(`${url}/healthz`),
      'me-hot': () => fetch(`${url}/me`, { headers: { authorization: `Bearer ${inputs.hotTokens[hotNext++ % inputs.hotTokens.length]}` } }),
      refresh: async () => {
        const r = await fetch(`${url}/refresh`, { method: 'POST', headers: json, body: JSON.stringify({ refresh_token: refreshToken }) });
        if (r.status === 200) {
          refreshToken = ((await r.clone().json()) as { refresh_token: string }).refresh_token;
        }
        return r;
      },
      'mfa-step': () => {
        const t = inputs.mfaTokens[mfaNext++];
        if (!t || !totp) throw new Error('callgrind: no mfa_token left');
        const step = reserveStepFor(totp, t.index, Date.now(), 3000);
        if (!step) throw new Error('callgrind: no TOTP step left for the mfa_token\'s user (more TOTP users needed)');
        return fetch(`${url}/login/mfa`, { method: 'POST', headers: json, body: JSON.stringify({ mfa_token: t.token, code: step.code }) });
      },
    };
    const many = async (kind: (typeof KINDS)[number], n: number) => {
      for (let i = 0; i < n; i++) {
        const r = await send[kind]();
        const body = await r.text();
        if (r.status !== 200) throw new Error(`callgrind: ${kind} answered ${r.status}: ${body.slice(0, 300)}`);
      }
    };
    const cg: CallgrindResults = { jitless: o.callgrindJitless, requests: o.callgrindRequests, warmup: o.callgrindWarmup, nodeFlags, valgrindFlags, perRequest: {}, repeats: {}, raw: {}, allThreads: {} };
    /** Instructions while `what` runs: the event loop's thread and every thread, and the wall time. */
    const counted = async (label: string, what: () => Promise<void>): Promise<{ main: number; all: number; threads: number; ms: number }> => {
      await ctl('--zero');
      await ctl('--instr=on');
      const t0 = performance.now();
      await what();
      const ms = performance.now() - t0;
      await ctl('--instr=off');
      const before = new Set(readdirSync(tmp));
      await ctl(`--dump=${label}`);
      const fresh = () => readdirSync(tmp).filter((f) => f.startsWith('callgrind.out.') && !before.has(f));
      for (let wait = 0; wait < 60 && !fresh().some((f) => f.endsWith('-01')); wait++) await sleep(500);
      await sleep(1000); // the other threads' files
      const dumps = readdirSync(tmp).filter((f) => f.startsWith('callgrind.out.') && !before.has(f));
      const main = dumps.find((f) => f.endsWith('-01'));
      if (!main) throw new Error(`callgrind: no dump of thread 1 in ${tmp} (${readdirSync(tmp).filter((f) => f.startsWith('callgrind')).join(', ')})`);
      return { main: totalIr(path.join(tmp, main)), all: dumps.reduce((a, f) => a + totalIr(path.join(tmp, f)), 0), threads: dumps.length, ms };
    };
    let idleMs = 5000;
    const kinds = measuredKinds(o.callgrindKinds);
    for (const kind of kinds) {
      log(`callgrind ${kind}: ${o.callgrindWarmup} warm-up requests`);
      await many(kind, o.callgrindWarmup);
      for (let rep = 0; rep < REPEATS; rep++) {
        // The event loop also runs timers (metrics' event-loop-delay sampling, cache pruning,
        // the checkpointer's scheduling): work per second, not per request, which under valgrind's
        // slow and load-dependent wall clock would change the count per request. So the
        // server is counted idle first, for as long as the requests will take, and that is
        // taken off.
        const idle = await counted(`${kind}-idle-${rep}`, async () => sleep(idleMs));
        const busy = await counted(`${kind}-${rep}`, () => many(kind, o.callgrindRequests));
        idleMs = Math.max(2000, busy.ms);
        const idlePerMs = idle.main / idle.ms;
        const perRequest = (busy.main - idlePerMs * busy.ms) / o.callgrindRequests;
        const raw = busy.main / o.callgrindRequests;
        if (raw < 10_000) throw new Error(`callgrind: ${raw} instructions per request: collection was not on around the requests`);
        (cg.repeats[kind] ??= []).push(perRequest);
        (cg.raw[kind] ??= []).push(raw);
        (cg.allThreads[kind] ??= []).push(busy.all / o.callgrindRequests);
        log(
          `  ${kind}: ${Math.round(perRequest).toLocaleString('en-US')} instructions per request on the event loop (${Math.round(raw).toLocaleString('en-US')} before taking off the idle server's ${Math.round(idlePerMs * 1000).toLocaleString('en-US')}/s over ${(busy.ms / 1000).toFixed(1)} s; ${Math.round(busy.all / o.callgrindRequests).toLocaleString('en-US')} in all ${busy.threads} threads)`,
        );
      }
      cg.perRequest[kind] = Math.min(...cg.repeats[kind]!);
    }
    if (totp) saveTotpState(inputs.totpFile, totp);
    results.callgrind = cg;
  } finally {
    await stopChild(child, 30_000);
  }
}
