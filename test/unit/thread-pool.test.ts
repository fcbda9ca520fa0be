/** The thread-pool helpers: hash concurrency, and lowering exactly the pool's threads. */
import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { defaultHashConcurrency } from '../../src/crypto/password.js';
import { POOL_NICENESS, lowerThreadPoolPriority, threadPoolSize } from '../../src/runtime/thread-pool.js';

test('hashes in flight: one more than the cores, but always a pool thread left for other work', () => {
  assert.equal(defaultHashConcurrency(2, 4), 3);
  assert.equal(defaultHashConcurrency(1, 4), 2);
  assert.equal(defaultHashConcurrency(8, 4), 3);
  assert.equal(defaultHashConcurrency(8, 12), 9);
  assert.equal(defaultHashConcurrency(4, 1), 1);
});

function stat(tid: number): string[] {
  const text = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

test('the lowered threads are the ones that run thread-pool work, and the event loop is not one of them', { skip: process.platform !== 'linux' && 'Linux only' }, async () => {
  const lowered = await lowerThreadPoolPriority();
  assert.ok(lowered.length >= Math.min(2, threadPoolSize()), `lowered ${lowered.length} threads`);
  assert.ok(!lowered.includes(process.pid), 'the event loop keeps its priority');
  for (const tid of lowered) assert.equal(Number(stat(tid)[16]), POOL_NICENESS, `thread ${tid} niceness`);
  assert.equal(Number(stat(process.pid)[16]), 0);

  // CPU time per thread before and after pool jobs (pbkdf2 runs on the pool): the threads
  // that did the work are lowered ones.
  const cpu = () => new Map(readdirSync('/proc/self/task').map((t) => [Number(t), Number(stat(Number(t))[11]) + Number(stat(Number(t))[12])]));
  const before = cpu();
  await Promise.all(Array.from({ length: threadPoolSize() }, () => promisify(pbkdf2)('password', 'salt', 400_000, 32, 'sha256')));
  const after = cpu();
  const busy = [...after].filter(([tid, ticks]) => ticks - (before.get(tid) ?? 0) >= 5).map(([tid]) => tid);
  assert.ok(busy.length > 0, 'some thread did the hashing');
  for (const tid of busy) assert.ok(lowered.includes(tid), `thread ${tid} ran pool work but was not lowered (lowered: ${lowered.join(', ')})`);
});
