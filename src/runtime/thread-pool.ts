/**
 * Thread priorities: password hashes run below the event loop's priority.
 *
 * argon2id is CPU-bound (~20-40 ms a hash). During a burst of logins the hashing threads
 * keep every core busy, and the event loop (which answers a token check in well under a
 * millisecond) would wait for the scheduler to hand it a core back: GET /me latency would
 * then grow with the login load. Linux schedules threads individually, and
 * setpriority(PRIO_PROCESS, 0) there changes the calling thread only, so each hashing
 * thread lowers itself when it starts (crypto/hash-worker.ts): the event loop preempts a
 * hash as soon as it has work, and the hashes still get every cycle it leaves idle.
 * Nothing is probed or guessed: the threads that hash are the threads that lowered
 * themselves. Elsewhere than Linux setPriority(0) changes the whole process, so it is
 * not called there.
 *
 * libuv's own pool is lowered too (lowerLibuvPool): it signs and verifies tokens (Ed25519
 * on the pool, crypto/jwt.ts), and at the event loop's priority those jobs took the event
 * loop's core from it: cold GET /me fell 11 % when the pool went back to normal priority
 * (docs/performance.md). Its fsyncs wait on the disk, not on the CPU, and lose nothing.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setPriority } from 'node:os';

/** Nice value of the hashing threads and of libuv's pool; the event loop keeps the process's own. */
export const HASH_THREAD_NICENESS = 10;

/** Lowers the calling thread's priority (Linux only; elsewhere it would lower the whole process). */
export function lowerOwnPriority(niceness = HASH_THREAD_NICENESS): boolean {
  if (process.platform !== 'linux') return false;
  try {
    setPriority(0, niceness);
    return true;
  } catch {
    // Not permitted (a container may forbid it): hashes then run at normal priority.
    return false;
  }
}

/** The calling thread's kernel id and nice value, from /proc/thread-self (Linux). */
export function currentThread(): { tid: number; niceness: number } {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const tid = Number(stat.slice(0, stat.indexOf(' ')));
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { tid, niceness: Number(fields[16]) };
}

/**
 * libuv's pool threads, each named by itself: an asynchronous open of /proc/thread-self
 * runs on a pool thread and resolves to that thread, so each read reports the id of the
 * thread that made it. Enough reads at once land on every thread (a few rounds at most).
 */
async function libuvPoolThreads(size: number, rounds = 20): Promise<Set<number>> {
  const found = new Set<number>();
  for (let round = 0; round < rounds && found.size < size; round++) {
    const stats = await Promise.all(Array.from({ length: size * 8 }, () => readFile('/proc/thread-self/stat', 'utf8')));
    for (const stat of stats) found.add(Number(stat.slice(0, stat.indexOf(' '))));
  }
  found.delete(process.pid); // never the event loop (an asynchronous read never runs there)
  return found;
}

/**
 * Lowers every thread of libuv's pool (UV_THREADPOOL_SIZE of them) to `niceness`; returns
 * their ids (none off Linux, or where lowering is not permitted). `gatehouse serve` calls it
 * at start.
 */
export async function lowerLibuvPool(size: number, niceness = HASH_THREAD_NICENESS): Promise<number[]> {
  if (process.platform !== 'linux') return [];
  const lowered: number[] = [];
  for (const tid of await libuvPoolThreads(size)) {
    try {
      setPriority(tid, niceness);
      lowered.push(tid);
    } catch {
      // Not permitted (a container may forbid it): the pool keeps the process's priority.
    }
  }
  return lowered;
}
