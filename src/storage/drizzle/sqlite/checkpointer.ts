/**
 * WAL checkpoints on a worker thread.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses the threshold (1 000
 * pages by default): it copies the WAL into the database and fsyncs both, synchronously,
 * on the event loop. Under steady writes that was a stall of several milliseconds about
 * once a second, which every request waiting behind it felt (p99 of GET /me during
 * logins). Here a worker thread with its own connection runs PASSIVE checkpoints (they
 * never wait for, nor block, readers or the writer) every 200 ms, so the copying and
 * the flushes happen off the event loop.
 *
 * A passive checkpoint cannot reset the WAL while commits keep arriving, so the main
 * connection keeps an automatic checkpoint as a backstop at a higher threshold: when it
 * fires, the worker has already copied almost everything, and it mostly resets the log.
 * Durability does not depend on the worker: committed frames are flushed by the group
 * commit (connection.ts); a checkpoint only moves them into the database file, with
 * SQLite's own fsyncs in SQLite's order.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Plain CommonJS, evaluated in the worker (no build step, same under tsx and dist/). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
db.pragma('synchronous = NORMAL');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Whatever it was, the next round tries again (and the backstop bounds the WAL).
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the worker and closes its connection; resolves when the thread has exited. */
  stop(): Promise<void>;
}

/** Backstop for the main connection's own automatic checkpoint, in pages (4 KiB each). */
export const BACKSTOP_CHECKPOINT_PAGES = 8_000;

/** How often the worker checkpoints. */
const INTERVAL_MS = 200;

export function startCheckpointer(file: string): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { driver, file, intervalMs: INTERVAL_MS },
    // A small heap: the worker only runs pragmas.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
  });
  // Never what keeps a process alive (CLI commands, tests).
  worker.unref();
  // A worker that dies (it should not) must not take the server with it: the commit-time
  // backstop checkpoint keeps the WAL bounded without it.
  worker.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    async stop() {
      // Held while it stops, so that awaiting the exit keeps the process alive.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
