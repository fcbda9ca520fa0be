/**
 * Hands the V8 heap back once the server goes quiet after a load.
 *
 * Under load V8 lets the old generation grow to several times what is live before it
 * collects (its heap-growing heuristics favour throughput), and gives the surplus back only
 * when its memory reducer runs. That reducer starts only after some garbage collections and
 * only when the allocation rate is low, and in the bench it did not run within 40 s of
 * idleness: the server sat at 113 MB of heap with 44 MB live (a forced collection brought
 * the heap to 47 MB; docs/performance.md, "RSS"). So the server asks for full collections
 * itself (see collectWhenIdle for how many), at the moment they cost nothing: when the whole process (event loop
 * and hashing threads) has used under 2 % of a core for a whole interval, and only when the
 * heap has grown by at least `minGrowthBytes` since the last collection of this kind, so an
 * idle server does not collect every interval.
 *
 * `gc` is not exposed without `--expose-gc`; as Jest does (jest-leak-detector), the flag is
 * set at run time and the function taken from a new context. A collection blocks the event
 * loop for as long as V8 needs to mark what is live (30-55 ms measured for ~50 MB); a request
 * that arrives meanwhile waits that long, once, after a quiet second.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleCollectionOptions {
  /** How often to look (ms); also how long the process must have been quiet. */
  intervalMs?: number;
  /** Collect only when the heap has grown by this much since the last collection (bytes). */
  minGrowthBytes?: number;
  /** Keep collecting, one a quiet interval, while each gives back at least this much (bytes). */
  minStepBytes?: number;
  /** At most this share of one core used over the interval counts as quiet. */
  quietShare?: number;
  /** Told after each collection (for the log). */
  onCollect?: (info: { heapBeforeBytes: number; heapAfterBytes: number; pauseMs: number }) => void;
}

export interface IdleCollection {
  stop(): void;
}

type Gc = () => void;

function exposedGc(): Gc | undefined {
  const existing = (globalThis as { gc?: Gc }).gc;
  if (typeof existing === 'function') return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as Gc) : undefined;
  } catch {
    return undefined;
  }
}

const heapBytes = (): number => getHeapStatistics().total_heap_size;

/**
 * Starts watching; undefined when this runtime does not let a program ask for a collection.
 *
 * One full collection marks what is live but leaves the old generation's fragmented pages
 * in place; the next one compacts them (measured after a bench run: old space 121 MB →
 * 102 MB after one, 53 MB after two, with 37 MB live). So collections go one per quiet
 * interval, each a pause of 30-55 ms, for as long as each gives back at least
 * `minStepBytes`; then the heap must grow by `minGrowthBytes` again before the next one.
 */
export function collectWhenIdle(options: IdleCollectionOptions = {}): IdleCollection | undefined {
  const { intervalMs = 1000, minGrowthBytes = 16 * 2 ** 20, minStepBytes = 4 * 2 ** 20, quietShare = 0.02, onCollect } = options;
  const gc = exposedGc();
  if (!gc) return undefined;
  let baseline = heapBytes();
  let shrinking = false;
  let cpuBefore = process.cpuUsage();
  const timer = setInterval(() => {
    const used = process.cpuUsage(cpuBefore);
    cpuBefore = process.cpuUsage();
    // cpuUsage counts every thread of the process, in µs.
    if ((used.user + used.system) / 1000 > intervalMs * quietShare) return;
    const before = heapBytes();
    if (!shrinking && before < baseline + minGrowthBytes) {
      // A heap that shrank by itself (V8's own reducer) lowers the mark to grow from.
      baseline = Math.min(baseline, before);
      return;
    }
    const t0 = performance.now();
    gc();
    const pauseMs = performance.now() - t0;
    const after = heapBytes();
    shrinking = before - after >= minStepBytes;
    baseline = after;
    // The collection's own CPU must not count as activity for the next interval.
    cpuBefore = process.cpuUsage();
    onCollect?.({ heapBeforeBytes: before, heapAfterBytes: after, pauseMs });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
