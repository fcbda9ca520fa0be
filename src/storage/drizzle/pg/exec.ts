/**
 * The dialect seam (../exec.ts) on node-postgres. A write is durable when its statement (or
 * its transaction) has committed: nothing to add. A transaction is drizzle's, on one pooled
 * client; statements in its body run on that client.
 */
import type { SQL } from 'drizzle-orm';
import type { Db, Exec, Params, Prepared, PreparableStatement, RowOf, RowsStatement, Tables, WriteStatement } from '../exec.js';
import * as tables from '../schema/pg.js';
import type { PgDb } from './connection.js';
import { translatePgError } from './errors.js';

/** What drizzle's node-postgres prepared statement answers: rows, or a result for a write. */
interface PgPrepared {
  execute(params?: Params): Promise<unknown>;
}

type PgScope = PgDb | Parameters<Parameters<PgDb['transaction']>[0]>[0];

const fail = (error: unknown): never => {
  throw translatePgError(error);
};
const rowCount = (result: unknown): number => (result as { rowCount: number | null }).rowCount ?? 0;

export class PgExec implements Exec {
  readonly dialect = 'pg';
  // The PostgreSQL tables, typed as the SQLite ones: same names, same row shapes (mappers.ts).
  readonly tables = tables as unknown as Tables;

  constructor(
    private readonly scope: PgScope,
    private readonly inTransaction = false,
    private readonly prepared = new Map<string, PgPrepared>(),
  ) {}

  /** Statements built on this transaction's client (a transaction scope only). */
  private readonly txPrepared = new Map<string, PgPrepared>();

  get db(): Db {
    return this.scope as unknown as Db;
  }

  /** drizzle's PostgreSQL builders are promises of their result. */
  private execute(statement: unknown): Promise<unknown> {
    return Promise.resolve(statement as PromiseLike<unknown>).catch(fail);
  }

  all<R>(statement: RowsStatement<R>): Promise<R[]> {
    return this.execute(statement) as Promise<R[]>;
  }

  async get<R>(statement: RowsStatement<R>): Promise<R | undefined> {
    return ((await this.execute(statement)) as R[])[0];
  }

  async run(statement: WriteStatement): Promise<number> {
    return rowCount(await this.execute(statement));
  }

  returning<R>(statement: RowsStatement<R>): Promise<R[]> {
    return this.all(statement);
  }

  async raw(statement: SQL): Promise<unknown[]> {
    return ((await this.execute((this.scope as PgDb).execute(statement))) as { rows: unknown[] }).rows;
  }

  prepare<S extends PreparableStatement>(name: string, build: (db: Db) => S): Prepared<RowOf<S>> {
    type R = RowOf<S>;
    const statement = (): PgPrepared => {
      // A named statement prepared on the pool runs on any pooled client, never on the
      // transaction's: inside one it is built on the transaction (same name, same text).
      // Built once per scope: the pool's statements, or this transaction's.
      const cache = this.inTransaction ? this.txPrepared : this.prepared;
      let s = cache.get(name);
      if (!s) {
        s = (build(this.db) as unknown as { prepare(name: string): PgPrepared }).prepare(name);
        cache.set(name, s);
      }
      return s;
    };
    const execute = (params: Params) => statement().execute(params).catch(fail);
    return {
      all: async (params) => (await execute(params)) as R[],
      get: async (params) => ((await execute(params)) as R[])[0],
      run: async (params) => rowCount(await execute(params)),
      returning: async (params) => (await execute(params)) as R[],
    };
  }

  async transaction<T>(body: (tx: Exec) => Promise<T>): Promise<T> {
    if (this.inTransaction) return body(this);
    try {
      return await (this.scope as PgDb).transaction((tx) => body(new PgExec(tx, true, this.prepared)));
    } catch (error) {
      throw translatePgError(error);
    }
  }
}
