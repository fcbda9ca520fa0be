/**
 * The worker threads that hash passwords: one process-wide pool (like libuv's, a resource
 * of the process, not of one app), created at the first hash. cores + 1 threads, so a
 * core that finishes a hash finds the next one already running (measured on 2 cores:
 * +8-10 % logins per second against one per core). A thread costs ~9 MB, so threads
 * beyond the first end 2 s after their last hash (the bench measured an idle server at
 * 132 MB with all three kept for a minute, against 104 MB before); one is kept so a login
 * after a quiet spell does not pay a thread's start-up.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { HASH_THREAD_NICENESS } from '../runtime/thread-pool.js';

/** Hashes in flight at once: one more than the cores. */
export function defaultHashConcurrency(cores = availableParallelism()): number {
  return cores + 1;
}

// hash-worker.js once built; from the TypeScript sources, a bootstrap that loads tsx first.
const here = fileURLToPath(import.meta.url);
const WORKER = path.join(path.dirname(here), here.endsWith('.ts') ? 'hash-worker-tsx.mjs' : 'hash-worker.js');

/** How long a hashing thread beyond the first outlives its last hash. */
export const HASH_THREAD_IDLE_MS = 2_000;

let pool: Piscina | undefined;
let niceness = 0;

/**
 * The server's hashing threads run below the event loop (runtime/thread-pool.ts explains
 * why); `gatehouse serve` calls this before its first hash. Tests and the other commands
 * serve no latency-bound requests and leave the threads at the process's priority.
 */
export function lowerHashThreads(value = HASH_THREAD_NICENESS): void {
  if (pool) throw new Error('lowerHashThreads() must run before the first hash');
  niceness = value;
}

export function hashPool(): Piscina {
  pool ??= new Piscina({
    filename: WORKER,
    minThreads: 1,
    maxThreads: defaultHashConcurrency(),
    idleTimeout: HASH_THREAD_IDLE_MS,
    // One task at a time per thread: a second one would only wait behind the first.
    concurrentTasksPerWorker: 1,
    // Each thread lowers its own priority as it starts (crypto/hash-worker.ts).
    workerData: { niceness },
  });
  return pool;
}

/** Ends the pool's threads (the pool is created again at the next hash). */
export async function closeHashPool(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.destroy();
}
