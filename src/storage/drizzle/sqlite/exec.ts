/**
 * The dialect seam (../exec.ts) on better-sqlite3.
 *
 * Statements run synchronously, at the call. A write is durable once the group-commit fsync
 * after it resolves (connection.ts): `run`/`returning` outside a transaction await it, a
 * transaction awaits it once after COMMIT.
 *
 * One connection serves every request, so a transaction (BEGIN ... COMMIT around an async
 * body) must keep every other statement out while it is open: a statement of another
 * request run in between would become part of it (rolled back with it, or reading what it
 * has not committed). The ConnectionGate below does that: while a transaction is open,
 * every statement outside it waits for it to end before it runs (its check and the
 * statement are in one synchronous step, so nothing can slip in between), and transactions
 * run one after the other. A body that awaits only the database's own (synchronous) work
 * holds the gate for microseconds; work that waits on anything else (hashing, mail,
 * network) belongs before or after the transaction.
 */
import type { SQL } from 'drizzle-orm';
import { StorageUnavailableError } from '../../../errors/unavailable.js';
import type { Db, Exec, Params, Prepared, PreparableStatement, RowOf, RowsStatement, Tables, WriteStatement } from '../exec.js';
import * as tables from '../schema/sqlite.js';
import type { SqliteConnection } from './connection.js';
import { translateSqliteError } from './errors.js';

/** As long as SQLite's busy_timeout: a statement waits that long for another's write lock too. */
const GATE_TIMEOUT_MS = 5_000;

export class ConnectionGate {
  /** Settles when the open transaction ends (or rejects once it has held the connection too long). */
  private open: Promise<void> | undefined;

  /** Undefined when a statement may run now; else what to wait for before trying again. */
  wait(): Promise<void> | undefined {
    return this.open;
  }

  /**
   * Runs `body` holding the connection: no statement outside it runs until it settles.
   * Whoever waits longer than GATE_TIMEOUT_MS gets a StorageUnavailableError (a 503), as
   * with SQLite's own lock; that includes a body that (wrongly) uses the outer stores
   * instead of its `tx`, which would otherwise wait for itself forever. (No
   * AsyncLocalStorage to tell who is inside: on Node 20 it costs every promise.)
   */
  async exclusive<T>(body: () => Promise<T>): Promise<T> {
    for (let waiting = this.wait(); waiting; waiting = this.wait()) await waiting;
    let end!: () => void;
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const deadline = new Promise<void>((_resolve, reject) => {
      timer = setTimeout(() => {
        const cause = new Error(`a SQLite transaction held the connection for more than ${GATE_TIMEOUT_MS} ms (inside a transaction, use its stores)`);
        reject(new StorageUnavailableError('database', { cause }));
      }, GATE_TIMEOUT_MS);
    });
    this.open = Promise.race([ended, deadline]);
    this.open.catch(() => undefined);
    try {
      return await body();
    } finally {
      clearTimeout(timer);
      this.open = undefined;
      end();
    }
  }
}

interface SqlitePrepared<R> {
  all(params?: Params): R[];
  get(params?: Params): R | undefined;
  run(params?: Params): unknown;
}

/** A transaction's own statements (see SqliteExec.transaction()). */
const CONTROL = {
  begin: 'BEGIN IMMEDIATE',
  commit: 'COMMIT',
  rollback: 'ROLLBACK',
  savepoint: 'SAVEPOINT grouped',
  rollbackToSavepoint: 'ROLLBACK TO grouped',
  releaseSavepoint: 'RELEASE grouped',
} as const;

interface QueuedTransaction {
  body: (tx: Exec) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown; cause: unknown };

function changes(result: unknown): number {
  return (result as { changes: number }).changes;
}

export class SqliteExec implements Exec {
  readonly dialect = 'sqlite';
  readonly tables: Tables = tables;

  constructor(
    readonly conn: SqliteConnection,
    readonly gate: ConnectionGate,
    /** True for the Exec a transaction's body gets. */
    private readonly inTransaction = false,
    private readonly prepared = new Map<string, SqlitePrepared<unknown>>(),
  ) {}

  /** Transactions waiting for the next group (see transaction()). */
  private queued: QueuedTransaction[] = [];
  private controlStatements: Record<keyof typeof CONTROL, SqlitePrepared<unknown>> | undefined;

  get db(): Db {
    return this.conn.db;
  }

  /**
   * Runs a synchronous statement now when the connection is free to this scope (else once
   * the open transaction has ended), translating failures. A write outside a transaction
   * starts its flush in the same step: the fsync that acknowledges it begins at once.
   */
  private now<T>(statement: () => T, write = false): Promise<T> {
    const waiting = this.inTransaction ? undefined : this.gate.wait();
    if (waiting) return waiting.then(() => this.now(statement, write));
    let value: T;
    try {
      value = statement();
    } catch (error) {
      return Promise.reject(translateSqliteError(error));
    }
    return write && !this.inTransaction ? this.conn.durable().then(() => value) : Promise.resolve(value);
  }

  private durably<T>(statement: () => T): Promise<T> {
    return this.now(statement, true);
  }

  all<R>(statement: RowsStatement<R>): Promise<R[]> {
    return this.now(() => statement.all());
  }

  get<R>(statement: RowsStatement<R>): Promise<R | undefined> {
    return this.now(() => statement.get());
  }

  run(statement: WriteStatement): Promise<number> {
    return this.durably(() => changes(statement.run()));
  }

  returning<R>(statement: RowsStatement<R>): Promise<R[]> {
    return this.durably(() => statement.all());
  }

  raw(statement: SQL): Promise<unknown[]> {
    return this.durably(() => this.db.all(statement));
  }

  prepare<S extends PreparableStatement>(name: string, build: (db: Db) => S): Prepared<RowOf<S>> {
    type R = RowOf<S>;
    // Prepared once per connection, shared by the transactions' scopes (same connection).
    let statement = this.prepared.get(name) as SqlitePrepared<R> | undefined;
    if (!statement) {
      statement = build(this.db).prepare() as SqlitePrepared<R>;
      this.prepared.set(name, statement as SqlitePrepared<unknown>);
    }
    const s = statement;
    return {
      all: (params: Params) => this.now(() => s.all(params)),
      get: (params: Params) => this.now(() => s.get(params)),
      run: (params: Params) => this.durably(() => changes(s.run(params))),
      returning: (params: Params) => this.durably(() => s.all(params)),
    };
  }

  /**
   * Transactions begun in the same turn of the event loop (requests parsed from the same
   * poll) run at the next setImmediate as one write transaction, each body in its own
   * savepoint, one after the other: one BEGIN IMMEDIATE / COMMIT (write lock, WAL frames of
   * the shared pages, commit frame) for all of them instead of one each, as the rotations
   * do (sessions.ts). A body that fails is rolled back to its savepoint and fails alone;
   * the others commit. Each caller is answered after the COMMIT and its flush, so no
   * caller sees a write that could still be lost. A transaction begun inside a body joins
   * it.
   */
  transaction<T>(body: (tx: Exec) => Promise<T>): Promise<T> {
    if (this.inTransaction) return body(this);
    return new Promise<T>((resolve, reject) => {
      this.queued.push({ body, resolve: resolve as (value: unknown) => void, reject });
      if (this.queued.length === 1) setImmediate(() => void this.runGroup());
    });
  }

  private async runGroup(): Promise<void> {
    const group = this.queued;
    this.queued = [];
    const raw = this.conn.raw;
    const tx = new SqliteExec(this.conn, this.gate, true, this.prepared);
    let settled: Settled[];
    try {
      settled = await this.gate.exclusive(async () => {
        const control = this.control();
        // IMMEDIATE: take the write lock first (another process waits on busy_timeout).
        control.begin.run();
        try {
          const results = group.length === 1 ? [await settle(group[0]!, tx)] : await this.runInSavepoints(group, tx);
          // A failing body alone (no savepoint around it) rolls back the whole transaction.
          if (group.length > 1 || results[0]!.ok) control.commit.run();
          else if (raw.inTransaction) control.rollback.run();
          return results;
        } catch (error) {
          // SQLite may already have ended it (a full disk, an I/O error).
          if (raw.inTransaction) control.rollback.run();
          throw error;
        }
      });
    } catch (error) {
      for (const queued of group) queued.reject(translateSqliteError(error));
      return;
    }
    try {
      await this.conn.durable();
    } catch (error) {
      for (const queued of group) queued.reject(error);
      return;
    }
    settled.forEach((result, i) => (result.ok ? group[i]!.resolve(result.value) : group[i]!.reject(result.error)));
  }

  private async runInSavepoints(group: QueuedTransaction[], tx: SqliteExec): Promise<Settled[]> {
    const control = this.control();
    const raw = this.conn.raw;
    const results: Settled[] = [];
    for (const queued of group) {
      control.savepoint.run();
      const result = await settle(queued, tx);
      // SQLite ended the whole transaction (a full disk, an I/O error): nothing of the group is kept.
      if (!result.ok && !raw.inTransaction) throw result.cause;
      if (!result.ok) control.rollbackToSavepoint.run();
      control.releaseSavepoint.run();
      results.push(result);
    }
    return results;
  }

  /** The transaction's own statements, prepared once, as better-sqlite3's own transaction() does (exec parses each time). */
  private control(): Record<keyof typeof CONTROL, SqlitePrepared<unknown>> {
    let control = this.controlStatements;
    if (!control) {
      const raw = this.conn.raw;
      control = Object.fromEntries(Object.entries(CONTROL).map(([name, text]) => [name, raw.prepare(text)])) as unknown as Record<keyof typeof CONTROL, SqlitePrepared<unknown>>;
      this.controlStatements = control;
    }
    return control;
  }
}

/** Runs one queued body, translating its failure; `cause` keeps the original error. */
async function settle(queued: QueuedTransaction, tx: SqliteExec): Promise<Settled> {
  try {
    return { ok: true, value: await queued.body(tx) };
  } catch (error) {
    return { ok: false, error: translateSqliteError(error), cause: error };
  }
}
