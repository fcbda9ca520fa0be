/**
 * Instructions per request (issue 19 item 8): a figure that survives a change of machine.
 * The server runs under valgrind's callgrind with collection off at start-up
 * (--instr-atstart=no) on the database the run made; for each request kind a warm-up (JIT,
 * caches), then `callgrind_control -i on` around a fixed number of requests sent one at a
 * time, `-i off`, a dump, and its total Ir (instructions, every thread of the process) ÷ the
 * requests. Each kind is measured twice in a row, so the results show how repeatable it is.
 *
 * What it needs from the run's server is made before that server stops (prepareCallgrind):
 * hot access tokens, a refresh token to rotate, and mfa_tokens from real password steps
 * (argon2 under valgrind would take minutes; the second step's code is computed when sent).
 * The MFA kind runs first: mfa_tokens live MFA_TOKEN_TTL_SECONDS (300 s by default).
 *
 * V8's JIT is on by default (what production runs; --smc-check=all-non-file lets valgrind
 * see the code V8 writes); --callgrind-jitless runs the interpreter only, a count that no
 * JIT timing can move but that is not production's code.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadTotpState, reserveStepFor, saveTotpState } from '../totp-steps.mjs';
import { setupTotpUsers } from './features.js';
import { log } from './log.js';
import { PASSWORD, ROOT } from './options.js';
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

/** On the run's server, before it stops: what the measured requests send. */
export async function prepareCallgrind(run: RunState, server: Server, hotFile: string, user: { username: string }): Promise<CallgrindInputs> {
  const { o, tmp } = run;
  const hotTokens = readFileSync(hotFile, 'utf8').split('\n').filter(Boolean).slice(0, o.callgrindRequests);
  const r = await fetch(`${server.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user.username, password: PASSWORD }) });
  if (r.status !== 200) throw new Error(`callgrind: login ${r.status}: ${await r.text()}`);
  const refreshToken = ((await r.json()) as { refresh_token: string }).refresh_token;
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
  const valgrindFlags = ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file'];
  const nodeFlags = [...o.serverNodeFlags, ...(o.callgrindJitless ? ['--jitless'] : [])];
  const logFile = path.join(tmp, 'server-callgrind.log');
  const logFd = openSync(logFile, 'w');
  log(`callgrind: valgrind ${valgrindFlags.join(' ')} node ${nodeFlags.join(' ')} dist/cli.js serve (start-up takes a while)`);
  const child = track(
    spawn('valgrind', [...valgrindFlags, `--callgrind-out-file=${outBase}.%p`, process.execPath, ...nodeFlags, path.join(ROOT, 'dist/cli.js'), 'serve'], {
      cwd: tmp,
      env: { ...server.env, PORT: String(port) },
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
        const r = await execFileAsync('callgrind_control', [...args, String(pid)], { encoding: 'utf8', timeout: 120_000 });
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
    const totp = loadTotpState(inputs.totpFile);
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
        if (!t) throw new Error('callgrind: no mfa_token left');
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
    const cg: CallgrindResults = { jitless: o.callgrindJitless, requests: o.callgrindRequests, warmup: o.callgrindWarmup, nodeFlags, valgrindFlags, perRequest: {}, repeats: {} };
    for (const kind of KINDS) {
      log(`callgrind ${kind}: ${o.callgrindWarmup} warm-up requests`);
      await many(kind, o.callgrindWarmup);
      for (let rep = 0; rep < REPEATS; rep++) {
        await ctl('--zero');
        await ctl('--instr=on');
        await many(kind, o.callgrindRequests);
        await ctl('--instr=off');
        const before = new Set(readdirSync(tmp));
        await ctl(`--dump=${kind}-${rep}`);
        let dump: string | undefined;
        for (let wait = 0; wait < 60 && !dump; wait++) {
          dump = readdirSync(tmp).find((f) => f.startsWith('callgrind.out.') && !before.has(f));
          if (!dump) await sleep(500);
        }
        if (!dump) throw new Error(`callgrind: no dump file in ${tmp} (${readdirSync(tmp).filter((f) => f.startsWith('callgrind')).join(', ')})`);
        const perRequest = totalIr(path.join(tmp, dump)) / o.callgrindRequests;
        (cg.repeats[kind] ??= []).push(perRequest);
        log(`  ${kind}: ${Math.round(perRequest).toLocaleString('en-US')} instructions per request`);
      }
      cg.perRequest[kind] = Math.min(...cg.repeats[kind]!);
    }
    saveTotpState(inputs.totpFile, totp);
    results.callgrind = cg;
  } finally {
    await stopChild(child, 30_000);
  }
}
