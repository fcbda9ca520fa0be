/**
 * The body of a hashing thread (run by crypto/hash-pool.ts). In the server it lowers its
 * own priority once, at start (hash-pool.ts lowerHashThreads), and it hashes
 * synchronously: the work stays on this thread, never on libuv's pool, which serves the
 * token signatures, fsyncs and file I/O of other requests.
 */
import { hashSync, verifySync, type Algorithm } from '@node-rs/argon2';
import { createRequire } from 'node:module';
import { workerData } from 'node:worker_threads';
import { currentThread, lowerOwnPriority } from '../runtime/thread-pool.js';
import type { Argon2Params } from './password.js';

// Algorithm is an ambient const enum, which verbatimModuleSyntax cannot read at run time.
const ARGON2ID = 2 satisfies Algorithm.Argon2id;

const { niceness } = workerData as { niceness: number };
if (niceness > 0) lowerOwnPriority(niceness);

const require = createRequire(import.meta.url);

export function hash(task: { password: string; params: Argon2Params }): string {
  return hashSync(task.password, { algorithm: ARGON2ID, ...task.params });
}

/** False for a wrong password and for a hash argon2 cannot read. */
export function verify(task: { storedHash: string; password: string }): boolean {
  try {
    return verifySync(task.storedHash, task.password);
  } catch {
    return false;
  }
}

/** passlib's bcrypt (hashes imported from the original service); loaded at the first one. */
export function verifyBcrypt(task: { storedHash: string; password: Uint8Array }): boolean {
  const bcrypt = require('@node-rs/bcrypt') as typeof import('@node-rs/bcrypt');
  try {
    return bcrypt.verifySync(Buffer.from(task.password), task.storedHash);
  } catch {
    return false;
  }
}

/** Which thread runs the tasks, and at what priority (for tests and diagnostics). */
export function thread(task: { holdMs: number }): { tid: number; niceness: number } {
  // Holding the thread a moment lets concurrent calls land on different threads.
  if (task.holdMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, task.holdMs);
  return currentThread();
}
