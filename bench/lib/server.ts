/**
 * The Gatehouse server under test: `node <npm start's flags> dist/cli.js serve` as a child
 * process on a free loopback port, with a fresh database (a temp SQLite file, or a fresh
 * PostgreSQL schema and Redis key prefix with --pg), the rate limits out of the way, its log
 * to a file. Also the CLI on the same database (`gatehouse clients create` for the
 * revocation measurement).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { log } from './log.js';
import { BENCH, BIG } from './options.js';
import { freePort, sleep, stopChild, track } from './processes.js';
import type { RunState } from './run-state.js';

export interface Server {
  child: ChildProcess;
  pid: number;
  url: string;
  logFile: string;
  /** The server's environment (the CLI gets the same). */
  env: Record<string, string>;
  /** Where node --cpu-prof writes (with --cpu-prof). */
  profDir: string | undefined;
  /** Stops the server (SIGTERM, SIGKILL after timeoutMs). */
  stop(timeoutMs?: number): Promise<void>;
  /** Drops what the run made in the database (the PostgreSQL schema, the Redis keys, a --db-dir directory). */
  cleanup(): Promise<void>;
}

export async function startServer(run: RunState): Promise<Server> {
  const { o, results, tmp } = run;
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: o.logLevel,
    RATE_LIMIT_LOGIN_PER_MINUTE: BIG,
    RATE_LIMIT_REGISTER_PER_HOUR: BIG,
    RATE_LIMIT_REFRESH_PER_MINUTE: BIG,
    LOCKOUT_ACCOUNT_IP_FAILURES: BIG,
    LOCKOUT_ACCOUNT_FAILURES: BIG,
    ...o.serverEnv,
  };
  let cleanup = async (): Promise<void> => undefined;
  if (o.pg) {
    const schema = `bench_${o.runId}`;
    const u = new URL(o.pgUrl);
    u.searchParams.set('schema', schema);
    env.DATABASE_URL = u.toString();
    env.REDIS_URL = o.redisUrl;
    env.REDIS_KEY_PREFIX = `gatehouse-bench-${o.runId}:`;
    cleanup = () => cleanupPg(o.pgUrl, schema, o.redisUrl, env.REDIS_KEY_PREFIX!);
  } else {
    // --db-dir /dev/shm puts the database on tmpfs (fsync costs nothing there): for
    // telling disk-flush time from CPU time, not for the committed figures.
    const dbDir = o.dbDir ? mkdtempSync(path.join(o.dbDir, 'gatehouse-bench-')) : tmp;
    if (o.dbDir) {
      cleanup = async () => rmSync(dbDir, { recursive: true, force: true });
      results.notes.push(`The SQLite database was in ${o.dbDir} (--db-dir), not in the temp directory.`);
    }
    env.DATABASE_URL = `file:${path.join(dbDir, 'gatehouse.sqlite')}`;
  }
  let profDir: string | undefined;
  if (o.cpuProf) {
    profDir = path.join(BENCH, 'profiles');
    mkdirSync(profDir, { recursive: true });
  }
  results.serverEnv = { ...env, PATH: undefined, HOME: undefined };
  const logFile = path.join(tmp, 'server.log');
  const logFd = openSync(logFile, 'w');
  log(`server: node ${o.serverNodeFlags.join(' ')} dist/cli.js serve on 127.0.0.1:${port} (${o.dbKind}, log to ${o.keep ? logFile : 'a temp file'})`);
  const child = track(
    spawn(process.execPath, [...o.serverNodeFlags, ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), path.join(o.serverRoot, 'dist/cli.js'), 'serve'], {
      cwd: tmp,
      env,
      stdio: ['ignore', logFd, logFd],
    }),
  );
  closeSync(logFd);
  const server: Server = {
    child,
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    logFile,
    env,
    profDir,
    stop: (timeoutMs?: number) => stopChild(child, timeoutMs),
    cleanup: () => cleanup(),
  };
  // From here on a failure must still stop the server and drop the database.
  try {
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    child.once('exit', (code, signal) => {
      exited = { code, signal };
    });
    const deadline = Date.now() + 30000;
    for (;;) {
      if (exited) throw new Error(`server exited (${JSON.stringify(exited)}): ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      try {
        const r = await fetch(`${server.url}/healthz`);
        if (r.ok) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new Error('server did not become healthy in 30 s');
      await sleep(100);
    }
  } catch (error) {
    await server.stop(5000);
    await server.cleanup();
    throw error;
  }
  return server;
}

/** Runs `gatehouse ARGS` (dist/cli.js) on the server's database, as the server runs (same environment and directory). */
export function gatehouseCli(run: RunState, server: Server, args: string[]): string {
  const r = spawnSync(process.execPath, [path.join(run.o.serverRoot, 'dist/cli.js'), ...args], { cwd: run.tmp, env: { ...server.env, LOG_LEVEL: 'warn' }, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`gatehouse ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}

async function cleanupPg(pgUrl: string, schema: string, redisUrl: string, prefix: string): Promise<void> {
  try {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  } catch (e) {
    log(`could not drop schema ${schema}: ${(e as Error).message}`);
  }
  try {
    const { Redis } = await import('ioredis');
    const redis = new Redis(redisUrl, { lazyConnect: true });
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
  } catch (e) {
    log(`could not delete Redis keys ${prefix}*: ${(e as Error).message}`);
  }
}
