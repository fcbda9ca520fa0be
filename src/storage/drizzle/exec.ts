/**
 * The dialect seam: the few things the stores need from a database, so that each store is
 * written once (stores/*.ts) over SQLite and PostgreSQL alike.
 *
 * A store builds its statements with drizzle's query builder over `exec.tables` and runs
 * them through the seam, which says how a statement runs and what comes back (rows, one
 * row, a count of changed rows), when a write is durable (SQLite: the group-commit fsync;
 * PostgreSQL: at COMMIT, nothing to add), how a transaction starts, and how a driver's
 * failure becomes a typed error (StorageUnavailableError, UniqueViolation).
 *
 * The builders are typed as SQLite's; a PostgreSQL seam hands PostgreSQL tables whose rows
 * have the same shape (mappers.ts checks it at compile time), and its implementation of
 * `all`/`get`/`run` awaits drizzle's PostgreSQL builder instead of calling it synchronously.
 */
import { Param, getTableColumns, sql, type Column, type InferInsertModel, type SQL, type Table } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type * as schema from './schema/sqlite.js';

export type Tables = typeof schema;
export type Db = BetterSQLite3Database<Tables>;

/** A built statement that returns rows (a select, or a write with `.returning()`). */
export interface RowsStatement<R> {
  all(): R[];
  get(): R | undefined;
}
/** A built write without `.returning()`. */
export interface WriteStatement {
  run(): unknown;
}

export type Params = Record<string, unknown>;

/**
 * A placeholder compared with `column` in a prepared statement's WHERE: its value is
 * converted as the column converts (a Date to SQLite's milliseconds or PostgreSQL's
 * timestamp). A bare `sql.placeholder` there is passed to the driver unconverted.
 */
export function placeholderFor(column: Column, name: string): Param {
  return new Param(sql.placeholder(name), column);
}

/**
 * A placeholder for each column of `table` but `omit` (left to their defaults), named as
 * the column's key, for a prepared insert's `values()`: drizzle converts each value there as
 * its column does. Bind with `bindRow(columnKeys(table, omit), row)`. A column whose value
 * may be NULL at insert must be of a type that converts NULL (text, integer): drizzle's
 * placeholders pass NULL to a timestamp column's converter, which fails; omit those.
 */
export function insertPlaceholders<T extends Table>(table: T, omit: readonly string[] = []): InferInsertModel<T> {
  return Object.fromEntries(columnKeys(table, omit).map((key) => [key, sql.placeholder(key)])) as unknown as InferInsertModel<T>;
}

export function columnKeys(table: Table, omit: readonly string[] = []): string[] {
  return Object.keys(getTableColumns(table)).filter((key) => !omit.includes(key));
}

/** A row as the values of insertPlaceholders (keys from columnKeys): a field absent or undefined is bound as NULL, as drizzle's insert would store it. */
export function bindRow(keys: readonly string[], row: object): Params {
  const params: Params = {};
  for (const key of keys) params[key] = (row as Record<string, unknown>)[key] ?? null;
  return params;
}

/** A statement built once with `sql.placeholder`s (see Exec.prepare). */
export interface Prepared<R> {
  all(params: Params): Promise<R[]>;
  get(params: Params): Promise<R | undefined>;
  /** A write: the number of rows it changed, once durable. */
  run(params: Params): Promise<number>;
  /** A write with `.returning()`: its rows, once durable. */
  returning(params: Params): Promise<R[]>;
}

/** A built statement that can be prepared (SQLite's builder types stand for both dialects). */
export interface PreparableStatement {
  prepare(): { all(params?: Params): unknown; get(params?: Params): unknown; run(params?: Params): unknown };
}

/** The row type of a preparable statement (what its `.get()` answers). */
export type RowOf<S extends PreparableStatement> = Exclude<ReturnType<ReturnType<S['prepare']>['get']>, undefined>;

export interface Exec {
  readonly dialect: 'sqlite' | 'pg';
  /** The query builder of this scope (the database, or the open transaction). */
  readonly db: Db;
  readonly tables: Tables;
  /** Reads. */
  all<R>(statement: RowsStatement<R>): Promise<R[]>;
  get<R>(statement: RowsStatement<R>): Promise<R | undefined>;
  /** A write: how many rows it changed, resolved once the write is durable. */
  run(statement: WriteStatement): Promise<number>;
  /** A write with `.returning()`: its rows, resolved once the write is durable. */
  returning<R>(statement: RowsStatement<R>): Promise<R[]>;
  /** A statement written in SQL (dialect-specific: check `dialect`); its rows, if any. */
  raw(statement: SQL): Promise<unknown[]>;
  /**
   * A statement built once per process (SQLite: prepared on the connection; PostgreSQL: a
   * named statement, planned once per pooled connection). `name` must be unique.
   */
  prepare<S extends PreparableStatement>(name: string, build: (db: Db) => S): Prepared<RowOf<S>>;
  /**
   * Runs `body` in one transaction: it commits when the body resolves, rolls back when it
   * throws, and resolves once the commit is durable. Inside a transaction, this is the
   * transaction (no nesting). The body must only touch the database through `tx`.
   */
  transaction<T>(body: (tx: Exec) => Promise<T>): Promise<T>;
}

/** A unique constraint refused a write; `constraint` names it (or is the driver's message). */
export class UniqueViolation extends Error {
  constructor(
    readonly constraint: string,
    options: { cause: unknown },
  ) {
    super(`unique constraint violated: ${constraint}`, options);
    this.name = 'UniqueViolation';
  }
}
