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
 * libuv's own pool (fsyncs, file I/O) and the event loop keep the process's priority.
 * Nothing is probed or guessed: the threads that hash are the threads that lowered
 * themselves. Elsewhere than Linux setPriority(0) changes the whole process, so it is
 * not called there.
 */
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Nice value of the hashing threads; the event loop and libuv's pool keep the process's own. */
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
