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

/** One autocannon run in a forked bench/load.mjs process. */
export function load(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = track(fork(path.join(BENCH, 'load.mjs'), [], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    let answered = false;
    child.once('message', (msg: { result?: LoadResult; error?: string }) => {
      answered = true;
      if (msg.error) reject(new Error(`load ${spec.kind}: ${msg.error}`));
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
