/** The PostgreSQL pool and the settings every store relies on. */
import { getTableColumns } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from '../schema/pg.js';

export type PgDb = NodePgDatabase<typeof schema>;

export interface PgConnection {
  pool: pg.Pool;
  db: PgDb;
  /** The schema everything lives in (`?schema=` in DATABASE_URL), or undefined for the default. */
  schema: string | undefined;
  /**
   * Where and how to connect, without the pool's per-query time limits: for work that may
   * rightly run longer than a request's query (migrations, on their own client).
   */
  clientConfig: pg.ClientConfig;
}

/** The pool's limit on one query, server side (statement_timeout) and client side. */
export const QUERY_TIMEOUT_MS = 10_000;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Splits our own `?schema=` parameter off the URL (pg would pass it to the server). */
export function parsePgUrl(url: string): { connectionString: string; schema: string | undefined } {
  const parsed = new URL(url);
  const schemaName = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  if (schemaName !== undefined && !SCHEMA_NAME.test(schemaName)) {
    throw new Error(`DATABASE_URL: schema "${schemaName}" must be a lower-case identifier`);
  }
  return { connectionString: parsed.toString(), schema: schemaName };
}

export function openPg(url: string, poolSize: number, queryTimeoutMs = QUERY_TIMEOUT_MS): PgConnection {
  const { connectionString, schema: schemaName } = parsePgUrl(url);
  const clientConfig: pg.ClientConfig = {
    connectionString,
    connectionTimeoutMillis: 3_000,
    ...(schemaName ? { options: `-c search_path=${schemaName}` } : {}),
  };
  const pool = new pg.Pool({
    ...clientConfig,
    max: poolSize,
    // Never hang: a dead server turns into an error (and a 503) within seconds.
    query_timeout: queryTimeoutMs,
    statement_timeout: queryTimeoutMs,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return { pool, db: drizzle(pool, { schema }), schema: schemaName, clientConfig };
}

/**
 * BEGIN … COMMIT on one pooled client, for statements run by name on it (stores' hot
 * paths; Drizzle's own transaction() builds every statement inside it anew). A client whose
 * ROLLBACK fails is destroyed rather than handed back to the pool.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
      client.release();
    } catch (rollbackError) {
      client.release(rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError)));
    }
    throw error;
  }
}

/**
 * `"column" AS "key"` for every column of a table, so that a raw statement's rows have the
 * same keys as Drizzle's (camelCase) and go through the shared mappers unchanged.
 */
export function rowColumns(table: Parameters<typeof getTableColumns>[0], alias: string): string {
  return Object.entries(getTableColumns(table))
    .map(([key, column]) => `${alias}."${column.name}" AS "${key}"`)
    .join(', ');
}
