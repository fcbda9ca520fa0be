/**
 * The heap a load grew is handed back once the process is quiet, and only then: not while
 * any thread of the process works, and not on an idle process whose heap has not grown.
 * Real V8 collections in this test's own process; short intervals keep it under seconds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { collectWhenIdle } from '../../src/runtime/idle-collection.js';

const MiB = 2 ** 20;
const INTERVAL_MS = 100;

interface Collected {
  heapBeforeBytes: number;
  heapAfterBytes: number;
  pauseMs: number;
}

/**
 * A load's heap: objects that live long enough to reach the old generation, of which one
 * in four stays live (as sessions and caches do) and the rest becomes garbage. The pages
 * the survivors are scattered over are what V8's own collections leave in place.
 */
function growOldGeneration(): { grownBytes: number; survivors: unknown[] } {
  const survivors: unknown[] = [];
  // Every object stays reachable until the loop ends (so it is promoted), then only
  // the survivors do: `all` is garbage once this function returns.
  const all: Array<{ i: number; s: string }> = [];
  for (let i = 0; i < 800_000; i++) {
    const o = { i, s: `garbage ${i}` };
    all.push(o);
    if (i % 4 === 0) survivors.push(o);
  }
  return { grownBytes: getHeapStatistics().total_heap_size, survivors };
}

async function until(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await sleep(INTERVAL_MS / 2);
}

test('an idle process whose heap has not grown is left alone', async () => {
  const collected: Collected[] = [];
  const idle = collectWhenIdle({ intervalMs: INTERVAL_MS, onCollect: (c) => collected.push(c) });
  assert.ok(idle, 'Node lets a program ask for a collection');
  await sleep(INTERVAL_MS * 10);
  idle.stop();
  assert.deepEqual(collected, []);
});

test('after a load, the grown heap is collected once the process is quiet', async () => {
  const collected: Collected[] = [];
  const idle = collectWhenIdle({ intervalMs: INTERVAL_MS, onCollect: (c) => collected.push(c) });
  assert.ok(idle);
  const { grownBytes, survivors } = growOldGeneration();
  assert.ok(grownBytes > 64 * MiB, `the load grew the heap (${Math.round(grownBytes / MiB)} MB)`);
  // The first collection, then the step-wise ones until a step gives back under 4 MiB.
  await until(() => collected.length > 0 && collected.at(-1)!.heapBeforeBytes - collected.at(-1)!.heapAfterBytes < 4 * MiB, 10_000);
  idle.stop();
  assert.ok(collected.length > 0, 'collected while quiet');
  // Measured: V8's own collections leave ~80-86 MB of heap for 26 MB live; one to three
  // of ours bring it to ~59-63 MB (the first sometimes gives back little, the next compacts).
  // On a busy machine (the suite runs files in parallel) V8's own major collection
  // sometimes compacts first, and ours then find little left (2 MB once, in a clean-clone
  // run), so: the load's growth is gone once the quiet-time collections end, and ours did
  // give back some of it themselves (a collection that did nothing gives back 0: its two
  // readings are taken around the call alone).
  const first = collected[0]!;
  const after = collected.at(-1)!.heapAfterBytes;
  const mb = (bytes: number) => Math.round(bytes / MiB);
  const heaps = `${mb(grownBytes)} MB after the load, ${mb(first.heapBeforeBytes)} MB at the first quiet-time collection, ${mb(after)} MB after the last`;
  assert.ok(grownBytes - after >= 12 * MiB, `the load's growth was handed back (${heaps})`);
  assert.ok(first.heapBeforeBytes - after >= 1 * MiB, `the quiet-time collections gave back part of it (${heaps})`);
  assert.equal(survivors.length, 200_000, 'the survivors stayed live throughout');
});

test('no collection while another thread of the process works; one as soon as it stops', async () => {
  const collected: Collected[] = [];
  const { survivors } = growOldGeneration();
  const idle = collectWhenIdle({ intervalMs: INTERVAL_MS, minGrowthBytes: 0, onCollect: (c) => collected.push(c) });
  assert.ok(idle);
  // A worker spinning on a core: the event loop is free, but the process is not quiet.
  const spinMs = INTERVAL_MS * 15;
  const worker = new Worker(`const end = Date.now() + ${spinMs}; while (Date.now() < end);`, { eval: true });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  await sleep(INTERVAL_MS * 2);
  const spinning = Date.now();
  await exited;
  assert.ok(Date.now() - spinning > INTERVAL_MS * 5, 'the worker spun for several intervals');
  assert.deepEqual(collected, [], 'no collection while the worker spun');
  await until(() => collected.length > 0, 5_000);
  idle.stop();
  assert.ok(collected.length > 0, 'collected once the worker had stopped');
  assert.equal(survivors.length, 200_000);
});
