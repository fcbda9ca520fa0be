/**
 * Child processes of the bench: every one is tracked so that a failure, a signal or the
 * watchdog kills them all; floors and load generators are plain Node scripts (bench/*.mjs),
 * so what runs under load is the same whatever runs the driver.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { log } from './log.js';
import { BENCH, ROOT } from './options.js';
import type { LoadResult, LoadSpec } from './types.js';

const children = new Set<ChildProcess>();

export function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function killAll(): void {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Ctrl-C or a TERM kills every child first. */
export function killChildrenOnSignals(): void {
  process.on('SIGINT', () => {
    killAll();
    process.exit(130);
  });
  process.on('SIGTERM', () => {
    killAll();
    process.exit(143);
  });
}

/** Bounds the run (armed once the machine is quiet): everything is killed past maxSeconds. */
export function armWatchdog(maxSeconds: number): void {
  setTimeout(() => {
    log(`run exceeded --max-seconds ${maxSeconds}: stopping`);
    killAll();
    process.exit(124);
  }, maxSeconds * 1000).unref();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a floor server script and waits for its "READY <port>" line. */
export function startFloor(script: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(process.execPath, [path.join(BENCH, script)], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      const m = /READY (\d+)/.exec(buf);
      if (m) {
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
}

export function stopChild(child: ChildProcess, timeoutMs = 15000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Why a load's result is not a measurement of what it says (issue 19 item 9): answers it did
 * not expect (a non-2xx, unless that request expects one), connection errors, timeouts, or a
 * load that ran out of what it sends; undefined when there is none.
 */
export function loadFailure(spec: LoadSpec, r: LoadResult): string | undefined {
  const what: string[] = [];
  if (r.non2xx > 0) what.push(`${r.non2xx} unexpected answers (${Object.entries(r.unexpected).map(([k, n]) => `${n} × ${k}`).join(', ')})`);
  if (r.errors > 0) what.push(`${r.errors} connection errors or timeouts (${r.timeouts} timeouts)`);
  what.push(...r.problems);
  if (what.length === 0) return undefined;
  return `load ${spec.kind}${spec.path ? ` ${spec.path}` : ''} against ${spec.url}: ${what.join('; ')}, out of ${r.total} requests (status codes ${JSON.stringify(r.statusCodes)}). A scenario that does not expect these fails the run: its figures would not measure what they say.`;
}

/** One autocannon run in a forked bench/load.mjs process; any unexpected answer or error rejects (loadFailure). */
export function load(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = track(fork(path.join(BENCH, 'load.mjs'), [], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    let answered = false;
    child.once('message', (msg: { result?: LoadResult; error?: string }) => {
      answered = true;
      if (msg.error) return reject(new Error(`load ${spec.kind}: ${msg.error}`));
      const failure = loadFailure(spec, msg.result!);
      if (failure) reject(new Error(failure));
      else resolve(msg.result!);
    });
    child.once('exit', (code) => {
      if (!answered) reject(new Error(`load ${spec.kind} exited with ${code}`));
    });
    child.send({ spec });
  });
}

/** Runs fn(0 .. n-1), `concurrency` at a time. */
export async function pmap(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        await fn(i);
      }
    }),
  );
}
