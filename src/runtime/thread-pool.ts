/**
 * libuv's thread pool: its size, and the event loop before password hashing.
 *
 * argon2id runs on libuv's thread pool. During a burst of logins those threads keep every
 * core busy, and the event loop (which answers a token check in well under a millisecond)
 * waits for the scheduler to hand it a core back: GET /me latency then grows with the
 * login load. Linux schedules threads individually, so the pool's threads are given a
 * lower priority (a higher nice value) than the event loop: the event loop preempts a
 * hash as soon as it has work, and the hashes still get every cycle it leaves idle. Login
 * throughput does not change; the latency of everything else stops depending on it.
 *
 * Node does not name its threads, so the pool's are found by what they do: a few CPU-bound
 * pool jobs (PBKDF2) are started, one per pool thread, and the threads whose CPU time
 * grew are the pool's (repeated a few times, since a fast thread may take two jobs).
 * It costs ~50 ms once at start-up. A V8 helper thread that happens to be busy at that
 * moment may be lowered too, which does no harm. Best effort and Linux only: elsewhere,
 * or when /proc cannot be read, it does nothing.
 */
import { pbkdf2 } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { promisify } from 'node:util';

/** Nice value for the pool's threads; the event loop keeps the process's own. */
export const POOL_NICENESS = 10;

/** libuv's thread-pool size (UV_THREADPOOL_SIZE, 4 by default), read as libuv does. */
export function threadPoolSize(): number {
  const configured = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(configured) && configured > 0 ? Math.min(configured, 1024) : 4;
}

/** CPU time so far (user + system, clock ticks) of each of this process's threads. */
function threadCpu(): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const name of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu.set(Number(name), Number(fields[11]) + Number(fields[12]));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return cpu;
}

const pbkdf2Async = promisify(pbkdf2);

/** The threads that run thread-pool jobs (probed), never the event loop's. */
async function findPoolThreads(rounds = 4): Promise<Set<number>> {
  const size = threadPoolSize();
  const found = new Set<number>();
  for (let round = 0; round < rounds && found.size < size; round++) {
    const before = threadCpu();
    // ~20-40 ms of CPU each: several clock ticks, so the busy threads stand out.
    await Promise.all(Array.from({ length: size }, () => pbkdf2Async('probe', 'gatehouse', 60_000, 32, 'sha256')));
    for (const [tid, ticks] of threadCpu()) {
      if (tid !== process.pid && ticks - (before.get(tid) ?? ticks) >= 1) found.add(tid);
    }
  }
  return found;
}

/** Returns the ids of the threads it lowered (none off Linux or on any failure). */
export async function lowerThreadPoolPriority(niceness = POOL_NICENESS): Promise<number[]> {
  if (process.platform !== 'linux') return [];
  let pool: Set<number>;
  try {
    pool = await findPoolThreads();
  } catch {
    return [];
  }
  const lowered: number[] = [];
  for (const tid of pool) {
    try {
      setPriority(tid, niceness);
      lowered.push(tid);
    } catch {
      // Not permitted, or gone: leave it.
    }
  }
  return lowered;
}
