/**
 * Password hashes run on their own threads, each below the event loop's priority; the
 * event loop and libuv's pool keep theirs. Deterministic: the threads report who they are
 * (from /proc/thread-self), nothing is inferred from CPU time.
 */
import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PasswordHasher, defaultHashConcurrency } from '../../src/crypto/password.js';
import { hashPool, lowerHashThreads } from '../../src/crypto/hash-pool.js';
import { HASH_THREAD_NICENESS } from '../../src/runtime/thread-pool.js';

const LINUX = process.platform === 'linux';

// As `gatehouse serve` does, before the first hash.
lowerHashThreads();

test('hashes in flight: one more than the cores', () => {
  assert.equal(defaultHashConcurrency(1), 2);
  assert.equal(defaultHashConcurrency(2), 3);
  assert.equal(defaultHashConcurrency(8), 9);
  assert.equal(hashPool().options.maxThreads, availableParallelism() + 1);
});

function niceness(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

test('every thread that hashes runs below the event loop, and no other thread is lowered', { skip: !LINUX && 'Linux only' }, async () => {
  const pool = hashPool();
  const hasher = new PasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
  // Real work first, so the pool has started threads; then ask as many threads as it may have.
  await Promise.all(Array.from({ length: 6 }, (_, i) => hasher.hash(`pw-${i}`)));
  const reports = (await Promise.all(
    Array.from({ length: pool.options.maxThreads * 2 }, () => pool.run({ holdMs: 30 }, { name: 'thread' })),
  )) as Array<{ tid: number; niceness: number }>;
  for (const r of reports) {
    assert.notEqual(r.tid, process.pid, 'hashes never run on the event loop');
    assert.equal(r.niceness, HASH_THREAD_NICENESS, `hashing thread ${r.tid}`);
  }
  // libuv's pool works meanwhile (pbkdf2 runs there) and keeps the process's priority.
  await Promise.all(Array.from({ length: 4 }, () => promisify(pbkdf2)('password', 'salt', 1_000, 32, 'sha256')));
  assert.equal(niceness(process.pid), 0, 'the event loop keeps its priority');
  const lowered = readdirSync('/proc/self/task').map(Number).filter((tid) => niceness(tid) !== 0);
  // Only the pool's own threads lowered themselves: never more than it has.
  assert.ok(lowered.length <= pool.threads.length, `lowered ${lowered.length} threads, the pool has ${pool.threads.length}`);
  for (const r of reports) assert.ok(lowered.includes(r.tid), `thread ${r.tid} reported as lowered`);
});
