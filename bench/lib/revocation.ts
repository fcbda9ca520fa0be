/**
 * The revocation delay (issue 18): a resource server in its own process using
 * @gatehouse/node's verifier with the revocation feed (test/helpers/resource-server.ts, the
 * same one test/cluster/revocation-feed.test.ts starts) follows the server's feed as a
 * confidential client; for each of N logouts, the time from the logout's answer at the
 * server to the first request the resource server refuses with that token. Sequential
 * logouts, the resource server asked again as soon as it answers.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fmtMs, log } from './log.js';
import { ROOT } from './options.js';
import { freePort, stopChild, track } from './processes.js';
import type { RunState } from './run-state.js';
import type { User } from './scenarios.js';
import { gatehouseCli, type Server } from './server.js';
import type { RevocationDelay } from './types.js';

/** How long one logout may stay accepted before the measurement gives up. */
const GIVE_UP_MS = 10_000;

async function startResourceServer(server: Server, clientId: string, clientSecret: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', 'test/helpers/resource-server.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', RS_PORT: String(port), RS_FEED_URL: server.url, RS_ISSUER: server.url, RS_CLIENT_ID: clientId, RS_CLIENT_SECRET: clientSecret },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`resource server not ready in 60 s:\n${out}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`resource server exited (${code}):\n${out}`));
    });
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => stopChild(child, 5000) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function measureRevocationDelay(run: RunState, server: Server, user: User): Promise<RevocationDelay> {
  const { o } = run;
  const n = o.revocationLogouts;
  const clientId = `bench-rs-${o.runId}`;
  const created = gatehouseCli(run, server, ['clients', 'create', '--id', clientId, '--audience', 'gatehouse']);
  const secret = /^client_secret=(\S+)$/m.exec(created)?.[1];
  if (!secret) throw new Error(`gatehouse clients create printed no secret: ${created}`);
  log(`revocation delay: a resource server (@gatehouse/node, feed as ${clientId}); ${n} logouts, each timed until the resource server refuses the token`);
  const rs = await startResourceServer(server, clientId, secret);
  const json = { 'content-type': 'application/json' };
  const call = async (token: string) => {
    const res = await fetch(`${rs.url}/data`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    return res.status;
  };
  const delays: number[] = [];
  let acceptedAfterLogout = 0;
  try {
    for (let i = 0; i < n; i++) {
      const loginRes = await fetch(`${server.url}/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: user.username, password: user.password }) });
      if (loginRes.status !== 200) throw new Error(`revocation: login ${loginRes.status}: ${await loginRes.text()}`);
      const token = ((await loginRes.json()) as { access_token: string }).access_token;
      const before = await call(token);
      if (before !== 200) throw new Error(`revocation: the resource server answered ${before} to a live token`);
      const out = await fetch(`${server.url}/logout`, { method: 'POST', headers: { ...json, authorization: `Bearer ${token}` }, body: '{}' });
      if (out.status !== 200) throw new Error(`revocation: logout ${out.status}: ${await out.text()}`);
      const answered = performance.now();
      let status = 200;
      while (status === 200) {
        if (performance.now() - answered > GIVE_UP_MS) throw new Error(`revocation: logout ${i} still accepted after ${GIVE_UP_MS / 1000} s`);
        status = await call(token);
        if (status === 200) acceptedAfterLogout++;
      }
      delays.push(performance.now() - answered);
      if (status !== 401) throw new Error(`revocation: the resource server refused a logged-out token with ${status}, not 401`);
    }
  } finally {
    await rs.stop();
  }
  delays.sort((a, b) => a - b);
  const result: RevocationDelay = {
    logouts: n,
    delaysMs: delays,
    medianMs: percentile(delays, 50),
    p99Ms: percentile(delays, 99),
    maxMs: delays.at(-1)!,
    meanMs: delays.reduce((a, b) => a + b, 0) / delays.length,
    acceptedAfterLogout,
  };
  log(`  revocation delay over ${n} logouts: median ${fmtMs(result.medianMs)} ms, p99 ${fmtMs(result.p99Ms)} ms, max ${fmtMs(result.maxMs)} ms`);
  return result;
}
