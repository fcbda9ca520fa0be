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
 * fires, the worker has already copied most of the log; the event loop copies the rest,
 * fsyncs the database, and the log restarts (see BACKSTOP_CHECKPOINT_PAGES).
 * Durability does not depend on the worker: committed frames are flushed by the group
 * commit (connection.ts); a checkpoint only moves them into the database file, with
 * SQLite's own fsyncs in SQLite's order.
 *
 * The thread is a whole V8 isolate (~9 MB of memory, measured), and an auth server is idle
 * most of the time. So it runs only while there is something to copy: it starts at the
 * first commit (connection.ts calls wake() with every durable()), and it ends by itself
 * once the WAL has been fully copied and no commit has added to it for
 * CHECKPOINTER_IDLE_MS. The next commit starts it again (0.4 ms of the event loop's time
 * to create it, measured; it is ready ~17 ms later on its own thread). A commit that lands
 * while it is ending waits in the WAL for the next one; the backstop, and the checkpoint
 * SQLite makes when the last connection closes, cover that.
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
// Rounds in a row that found the WAL fully copied and as long as the round before found it.
let quietRounds = 0;
let lastLog = -1;
const checkpoint = () => {
  try {
    const { log, checkpointed } = db.pragma('wal_checkpoint(PASSIVE)')[0];
    quietRounds = log === checkpointed && log === lastLog ? quietRounds + 1 : 0;
    lastLog = log;
  } catch {
    // Whatever it was, the next round tries again (and the backstop bounds the WAL).
    quietRounds = 0;
  }
  if (quietRounds >= workerData.idleRounds) end();
};
const timer = setInterval(checkpoint, workerData.intervalMs);
// With the timer gone and the port closed, nothing keeps the thread alive: it exits.
function end() {
  clearInterval(timer);
  db.close();
  parentPort.close();
}
parentPort.on('message', (message) => {
  if (message === 'stop') end();
});
`;

export interface Checkpointer {
  /** A commit happened: starts the worker unless it is running (cheap when it is). */
  wake(): void;
  /** Whether a worker thread is running now (for tests and diagnostics). */
  readonly running: boolean;
  /** How many worker threads have been started so far (for tests and diagnostics). */
  readonly starts: number;
  /** Stops the worker and closes its connection; resolves when the thread has exited. */
  stop(): Promise<void>;
}

/**
 * Backstop for the main connection's own automatic checkpoint, in pages (4 KiB each): the
 * WAL file grows to ~125 MiB under sustained writes. Each time it fires, the event loop
 * copies what the worker has not copied yet and fsyncs the database file: 50-140 ms on a
 * 750 MiB database. At 8 000 pages (32 MiB) that happened often enough under sustained
 * refreshes to set their p99 (2.8x the small database's, `bench --large`); at 32 000 it
 * is ~4x rarer and the p99 is the small database's (docs/performance.md, item 10).
 */
export const BACKSTOP_CHECKPOINT_PAGES = 32_000;

/** How often the worker checkpoints. */
const INTERVAL_MS = 200;

/** How long the WAL must stay fully copied, with no commit, before the worker ends. */
export const CHECKPOINTER_IDLE_MS = 5_000;

/** A checkpointer for `file`; its worker starts at the first wake(). */
export function createCheckpointer(file: string, options: { idleMs?: number } = {}): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const idleRounds = Math.max(1, Math.round((options.idleMs ?? CHECKPOINTER_IDLE_MS) / INTERVAL_MS));
  let worker: Worker | undefined;
  let starts = 0;
  let stopped = false;
  // Every worker started so far has exited once this settles.
  let exited = Promise.resolve();

  const spawn = (): void => {
    const started = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver, file, intervalMs: INTERVAL_MS, idleRounds },
      // A small heap: the worker only runs pragmas.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
    });
    // Never what keeps a process alive (CLI commands, tests).
    started.unref();
    // A worker that dies (it should not) must not take the server with it: the commit-time
    // backstop checkpoint keeps the WAL bounded without it, and the next commit starts another.
    started.on('error', () => undefined);
    const ended = new Promise<void>((resolve) =>
      started.once('exit', () => {
        if (worker === started) worker = undefined;
        resolve();
      }),
    );
    exited = Promise.all([exited, ended]).then(() => undefined);
    worker = started;
    starts++;
  };

  return {
    wake() {
      if (!worker && !stopped) spawn();
    },
    get running() {
      return worker !== undefined;
    },
    get starts() {
      return starts;
    },
    async stop() {
      stopped = true;
      if (worker) {
        // Held while it stops, so that awaiting the exit keeps the process alive.
        worker.ref();
        worker.postMessage('stop');
      }
      await exited;
    },
  };
}
