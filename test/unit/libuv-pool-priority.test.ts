/**
 * libuv's pool (token signatures and verifications, fsyncs, file I/O) runs below the event
 * loop's priority once lowerLibuvPool has run, as `gatehouse serve` does at start. Its own
 * process: the lowering is process-wide and permanent. The threads report their own
 * priority (an asynchronous read of /proc/thread-self runs on a pool thread).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { HASH_THREAD_NICENESS, lowerLibuvPool } from '../../src/runtime/thread-pool.js';

const LINUX = process.platform === 'linux';
const POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE ?? 4);

const fields = (stat: string) => stat.slice(stat.lastIndexOf(')') + 2).split(' ');
const reportOf = (stat: string) => ({ tid: Number(stat.slice(0, stat.indexOf(' '))), niceness: Number(fields(stat)[16]) });

test('every thread of libuv\'s pool runs below the event loop; the event loop keeps its priority', { skip: !LINUX && 'Linux only' }, async () => {
  const lowered = await lowerLibuvPool(POOL_SIZE);
  assert.equal(new Set(lowered).size, POOL_SIZE, `lowered ${lowered.length} threads, the pool has ${POOL_SIZE}`);
  assert.ok(!lowered.includes(process.pid), 'never the event loop');
  // Pool jobs, many at once so that every thread takes some: each reports its priority.
  const reports = (await Promise.all(Array.from({ length: POOL_SIZE * 16 }, () => readFile('/proc/thread-self/stat', 'utf8')))).map(reportOf);
  for (const r of reports) {
    assert.ok(lowered.includes(r.tid), `pool thread ${r.tid} was among those lowered`);
    assert.equal(r.niceness, HASH_THREAD_NICENESS, `pool thread ${r.tid}`);
  }
  assert.equal(Number(fields(readFileSync('/proc/self/stat', 'utf8'))[16]), 0, 'the event loop keeps its priority');
});
