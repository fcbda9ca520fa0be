/**
 * Opens the embedded SQLite database with the settings every store relies on, and the
 * durability barrier every write awaits before it is acknowledged.
 *
 * Why not `synchronous=FULL`: in WAL mode FULL is NORMAL plus one fsync of the -wal file
 * at the end of each commit. better-sqlite3 is synchronous, so that fsync (a millisecond
 * or more) ran on the event loop once per write transaction, one after the other: it
 * capped POST /refresh at ~500/s and stalled every other request while it ran.
 *
 * Here the connection runs with NORMAL (commits write the WAL but do not fsync it; SQLite
 * still syncs the WAL before each checkpoint and the database after it, so a checkpoint
 * never moves unsynced frames into the database) and each store method, after its
 * transaction commits and before it returns, awaits `durable()`: an fsync of the -wal
 * file on libuv's thread pool. That is the fsync FULL would have made, so an acknowledged
 * write survives power loss exactly as before; but the event loop keeps serving while the
 * disk flushes, and one fsync covers every commit written before it started (group commit):
 * the WAL is append-only between checkpoints, so flushing it flushes all earlier commits.
 */
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { closeSync, fsync as fsyncCallback, fsyncSync, mkdirSync, openSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as schema from '../schema/sqlite.js';
import { BACKSTOP_CHECKPOINT_PAGES, createCheckpointer, type Checkpointer } from './checkpointer.js';

export type SqliteDb = BetterSQLite3Database<typeof schema>;

export interface SqliteConnection {
  raw: Database.Database;
  db: SqliteDb;
  /**
   * Resolves once every transaction this connection committed before the call is on
   * stable storage; rejects (and keeps rejecting, see GroupCommit) when an fsync fails.
   * Call it after a write commits and before acknowledging it. Reads need not.
   */
  durable(): Promise<void>;
  /** The fsync failure that poisoned the connection, if any (readiness reports it). */
  readonly failure: Error | undefined;
  /** Flushes what is pending, then closes the database, then the -wal descriptor. */
  close(): Promise<void>;
}

export interface SqliteOptions {
  /** The fsync of the -wal descriptor; injectable so tests can observe or fail it. */
  fsync?: (fd: number) => Promise<void>;
  /**
   * Checkpoint the WAL from a worker thread instead of inside commits (checkpointer.ts).
   * The server turns it on; short-lived commands and most tests do not need the thread.
   */
  backgroundCheckpoints?: boolean;
}

const fsyncAsync = promisify(fsyncCallback);

/**
 * Coalesces flushes (group commit). If no flush is running, a caller starts one: its
 * commit happened before, so that flush covers it. If one is running, the caller's commit
 * may have been written after it started, so it waits for the NEXT flush, which every
 * caller arriving meanwhile shares; that flush starts as soon as the running one ends.
 * At most one flush runs at a time and at most one more is queued, however many writers.
 *
 * A failed flush rejects every caller waiting for it, and every later call too: after a
 * failed fsync the kernel may have dropped the dirty pages (and report success the next
 * time), so nothing written after it can be promised durable. The process must restart,
 * which replays the WAL as far as it is intact (readiness turns 503 meanwhile).
 */
export class GroupCommit {
  private running: Promise<void> | undefined;
  private queued: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | undefined;
  private failed: Error | undefined;
  /** Completed flushes, for tests and diagnostics. */
  flushes = 0;

  constructor(private readonly flush: () => Promise<void>) {}

  get failure(): Error | undefined {
    return this.failed;
  }

  wait(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (!this.running) return this.start();
    if (!this.queued) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.queued = { promise, resolve, reject };
    }
    return this.queued.promise;
  }

  /** Resolves when no flush is running or queued (what was written before is flushed). */
  async drain(): Promise<void> {
    await this.wait().catch(() => undefined);
    while (this.running) await this.running.catch(() => undefined);
  }

  private start(): Promise<void> {
    let flushing: Promise<void>;
    try {
      flushing = this.flush();
    } catch (error) {
      flushing = Promise.reject(error);
    }
    // The handlers run asynchronously, so always after `running` is set below.
    const round = flushing.then(
      () => {
        this.flushes++;
        const queued = this.queued;
        this.queued = undefined;
        this.running = undefined;
        // The queued callers' commits all happened before this point: one flush for all.
        if (queued) this.start().then(queued.resolve, queued.reject);
      },
      (error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        this.failed = new Error(`fsync of the SQLite write-ahead log failed: ${reason}`, { cause: error });
        const queued = this.queued;
        this.queued = undefined;
        this.running = undefined;
        queued?.reject(this.failed);
        throw this.failed;
      },
    );
    this.running = round;
    return round;
  }
}

export function openSqlite(file: string, options: SqliteOptions = {}): SqliteConnection {
  mkdirSync(path.dirname(file), { recursive: true });
  // Created readable by its owner only (SQLite gives its -wal and -shm files the same mode):
  // it holds password hashes and the sealed signing keys. An existing file keeps its mode.
  closeSync(openSync(file, 'a', 0o600));
  const raw = new Database(file);
  // WAL: readers never block the writer. busy_timeout: several processes queue on the lock.
  const walMode = raw.pragma('journal_mode = WAL', { simple: true }) === 'wal';
  raw.pragma('busy_timeout = 5000');
  raw.pragma('foreign_keys = ON');
  const db = drizzle(raw, { schema });

  if (!walMode) {
    // No WAL (an in-memory database, or a file system without shared memory): nothing to
    // flush asynchronously, so every commit keeps its own fsync.
    raw.pragma('synchronous = FULL');
    return {
      raw,
      db,
      durable: () => (raw.open ? Promise.resolve() : Promise.reject(new Error('the database connection is closed'))),
      failure: undefined,
      async close() {
        if (raw.open) raw.close();
      },
    };
  }

  raw.pragma('synchronous = NORMAL');
  // SQLite creates the -wal file (with the database's permissions) when it first opens the
  // WAL, i.e. at the first read transaction; it then keeps it while this connection is
  // open (it is deleted only by the last connection to close). One read makes sure it is
  // there; we never create it ourselves.
  raw.prepare('SELECT count(*) FROM sqlite_master').get();
  // SQLite names the WAL after the database's real path (symbolic links resolved).
  const walFile = `${realpathSync(file)}-wal`;
  // One descriptor for the connection's lifetime: never open/close descriptors on SQLite's
  // files per write (closing any descriptor of a file drops this process's POSIX locks on it).
  let walFd: number;
  try {
    walFd = openSync(walFile, 'r+');
  } catch (error) {
    raw.close();
    throw new Error(`cannot open the SQLite write-ahead log ${walFile} to flush it`, { cause: error });
  }
  try {
    // FULL syncs the directory the first time it syncs a new -wal file, so the file itself
    // survives a power loss; do the same once here.
    if (process.platform !== 'win32') {
      const dirFd = openSync(path.dirname(walFile), 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    }
  } catch (error) {
    closeSync(walFd);
    raw.close();
    throw error;
  }

  let checkpointer: Checkpointer | undefined;
  if (options.backgroundCheckpoints) {
    raw.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
    checkpointer = createCheckpointer(walFile.slice(0, -'-wal'.length));
  }

  const fsync = options.fsync ?? fsyncAsync;
  let closed = false;
  let closing: Promise<void> | undefined;
  const group = new GroupCommit(() => (closed ? Promise.reject(new Error('the database connection is closed')) : fsync(walFd)));
  return {
    raw,
    db,
    durable: () => {
      // A commit came before this call: the WAL has something for the checkpointer to copy.
      checkpointer?.wake();
      return group.wait();
    },
    get failure() {
      return group.failure;
    },
    close() {
      closing ??= (async () => {
        // Writes not yet flushed get their fsync before the descriptor goes (and no fsync
        // is left running on a descriptor number the process may reuse).
        await group.drain();
        await checkpointer?.stop();
        closed = true;
        raw.close();
        closeSync(walFd);
      })();
      return closing;
    },
  };
}

