/**
 * `--large` (issue 19, item 10: cost that does not grow with data): the SQLite scenarios run
 * twice in one bench run, first on the usual small database (the fixtures' 100 users and
 * 1 000 sessions), then on a fresh database that the bench fills in bulk before the server
 * starts: 200 000 users, 1 000 000 sessions (half of them rotated twice: the hashes of
 * their current, previous and one older token), 100 000 revoked access tokens and 500 000 audit events. The fixtures are
 * then made on top of it the same way, so each scenario does the same requests against
 * tables a thousand times larger. Target: every scenario keeps at least 80 % of its
 * small-data rate, with a p99 at most twice the small-data p99.
 *
 * The rows are written straight into the migrated file (one transaction per table, the
 * secondary indexes dropped during the insert and built afterwards, which sorts them once
 * instead of inserting at random places a million times).
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fmtMs, fmtRate, log } from './log.js';
import { ROOT } from './options.js';
import type { RunState } from './run-state.js';
import { runScenarios, setupFixtures } from './scenarios.js';
import { startServer, type Server } from './server.js';
import type { ScenarioResult } from './types.js';

export interface LargeSizes {
  users: number;
  sessions: number;
  revokedTokens: number;
  auditEvents: number;
}

export const LARGE: LargeSizes = { users: 200_000, sessions: 1_000_000, revokedTokens: 100_000, auditEvents: 500_000 };

const DAY = 86_400_000;
/** An argon2id hash of the right shape (nobody logs in as a filler user). */
const FILLER_HASH = `$argon2id$v=19$m=19456,t=2,p=1$${'c2FsdHNhbHRzYWx0c2FsdA'}$${'aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g'}`;
const token = (): string => randomBytes(32).toString('base64url');

/** Sizes scaled by `scale` (--large-scale), at least 1 each. */
export function scaled(scale: number): LargeSizes {
  const s = (n: number) => Math.max(1, Math.round(n * scale));
  return { users: s(LARGE.users), sessions: s(LARGE.sessions), revokedTokens: s(LARGE.revokedTokens), auditEvents: s(LARGE.auditEvents) };
}

/**
 * Creates `file` with Gatehouse's schema (`gatehouse migrate`, dist/cli.js) and fills it.
 * Returns the seconds it took and the file's size.
 */
export function buildLargeDatabase(file: string, sizes: LargeSizes = LARGE): { seconds: number; bytes: number; hashes: number } {
  const t0 = Date.now();
  mkdirSync(path.dirname(file), { recursive: true });
  const m = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'migrate'], {
    cwd: path.dirname(file),
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: `file:${file}`, LOG_LEVEL: 'warn' },
    encoding: 'utf8',
  });
  if (m.status !== 0) throw new Error(`gatehouse migrate exited with ${m.status}: ${m.stderr}`);
  const db = new Database(file);
  let hashes = 0;
  try {
    db.pragma('cache_size = -262144');
    db.pragma('synchronous = OFF');
    const now = Date.now();
    /** Drops a table's own indexes (not the automatic ones of PRIMARY KEY) around `fill`. */
    const withoutIndexes = (tables: string | string[], fill: () => void) => {
      const indexes = [tables]
        .flat()
        .flatMap((table) => db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL").all(table) as Array<{ name: string; sql: string }>);
      for (const i of indexes) db.exec(`DROP INDEX "${i.name}"`);
      db.transaction(fill)();
      for (const i of indexes) db.exec(i.sql);
    };

    log(`--large: ${sizes.users} users`);
    withoutIndexes('users', () => {
      const insert = db.prepare('INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      for (let i = 1; i <= sizes.users; i++) {
        const name = `filler_${i}`;
        const at = now - 400 * DAY + i;
        insert.run(i, name, name, `${name}@large.example`, `${name}@large.example`, FILLER_HASH, at, at);
      }
    });

    log(`--large: ${sizes.sessions} sessions (half rotated twice: the current token, the previous one and an older one each)`);
    withoutIndexes(['sessions', 'refresh_token_hashes'], () => {
      const insert = db.prepare(
        `INSERT INTO sessions (id, user_id, client_id, refresh_hash, previous_hash, generation, user_agent, ip, created_at, last_used_at, expires_at, rotated_at, amr)
         VALUES (?, ?, 'gatehouse', ?, ?, ?, 'Mozilla/5.0 (X11; Linux x86_64) large-data', '203.0.113.7', ?, ?, ?, ?, 'pwd')`,
      );
      const insertHash = db.prepare('INSERT INTO refresh_token_hashes (hash, session_id, expires_at) VALUES (?, ?, ?)');
      for (let i = 0; i < sizes.sessions; i++) {
        const id = randomUUID();
        const created = now - ((i * 7) % (25 * DAY));
        const expires = created + 30 * DAY;
        const current = token();
        const previous = i % 2 === 1 ? token() : null;
        insert.run(id, 1 + (i % sizes.users), current, previous, previous ? 2 : 0, created, created, expires, previous ? created : null);
        // Every token a client could still present: the current one, and for a rotated
        // session the previous one and one older (each expiring no later than the session).
        for (const hash of previous ? [current, previous, token()] : [current]) {
          insertHash.run(hash, id, expires);
          hashes++;
        }
      }
    });

    log(`--large: ${sizes.revokedTokens} revoked tokens, ${sizes.auditEvents} audit events`);
    withoutIndexes('revoked_tokens', () => {
      const insert = db.prepare('INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?)');
      for (let i = 0; i < sizes.revokedTokens; i++) insert.run(randomUUID(), now + DAY + i);
    });
    withoutIndexes('security_events', () => {
      const insert = db.prepare("INSERT INTO security_events (at, type, user_id, ip, user_agent, detail) VALUES (?, 'login_succeeded', ?, '203.0.113.7', 'large-data', ?)");
      for (let i = 0; i < sizes.auditEvents; i++) insert.run(now - 30 * DAY + i * 5, 1 + (i % sizes.users), JSON.stringify({ sessionId: randomUUID(), amr: ['pwd'] }));
    });
    // No ANALYZE: Gatehouse never runs it, so its databases have no sqlite_stat1/stat4. With
    // stat4 SQLite re-plans some statements at every execution, a cost that does not come
    // from the data's size: a control run with 200 users and ANALYZE lost most of what the
    // large one lost on hot /me (docs/performance.md).
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return { seconds: (Date.now() - t0) / 1000, bytes: statSync(file).size, hashes };
}

/** The large pass's figures beside the small ones, with the item's targets. */
export interface LargeComparison {
  sizes: LargeSizes;
  hashes: number;
  buildSeconds: number;
  bytes: number;
  small: Record<string, ScenarioResult>;
  large: Record<string, ScenarioResult>;
}

const RATE_TARGET = 0.8;
const P99_TARGET = 2;

/** Server CPU per answered request, µs (process CPU over the measured run / its rate). */
const cpuPerRequest = (r: ScenarioResult | undefined): number | undefined => (r?.serverCores && r.okRps ? (r.serverCores / r.okRps) * 1e6 : undefined);

/** A table (Markdown) comparing each scenario on small and large data, with a verdict each. */
export function renderLargeComparison(c: LargeComparison): string {
  const head = ['scenario', 'small req/s', 'large req/s', 'rate ratio (≥ 0.80)', 'small p99 ms', 'large p99 ms', 'p99 ratio (≤ 2)', 'CPU µs/req small → large', 'verdict'];
  const rows: string[][] = [];
  for (const [name, large] of Object.entries(c.large)) {
    const small = c.small[name];
    const rate = small?.okRps ? large.okRps / small.okRps : undefined;
    const p99 = small?.latencyMs.p99 && large.latencyMs.p99 !== null ? large.latencyMs.p99 / small.latencyMs.p99 : undefined;
    const pass = rate !== undefined && p99 !== undefined && rate >= RATE_TARGET && p99 <= P99_TARGET;
    const cs = cpuPerRequest(small);
    const cl = cpuPerRequest(large);
    rows.push([
      name,
      fmtRate(small?.okRps),
      fmtRate(large.okRps),
      rate === undefined ? '-' : rate.toFixed(2),
      fmtMs(small?.latencyMs.p99),
      fmtMs(large.latencyMs.p99),
      p99 === undefined ? '-' : p99.toFixed(2),
      cs === undefined || cl === undefined ? '-' : `${cs.toFixed(0)} → ${cl.toFixed(0)}`,
      pass ? 'PASS' : 'FAIL',
    ]);
  }
  const s = c.sizes;
  return [
    '## Large data (--large): each scenario on small and on large data, same run',
    '',
    `Large database, built in bulk by the bench in ${c.buildSeconds.toFixed(0)} s (${(c.bytes / 2 ** 20).toFixed(0)} MiB): ${s.users} users, ${s.sessions} sessions (half of them rotated; ${c.hashes} refresh-token hashes), ${s.revokedTokens} revoked tokens, ${s.auditEvents} audit events; the fixtures (100 users, 1 000 sessions) on top. Small: the same fixtures on an empty database. Targets: rate ≥ ${RATE_TARGET} × small, p99 ≤ ${P99_TARGET} × small. CPU µs/req is the server process's CPU over the measured run divided by its answered requests (less sensitive to other processes than the rate).`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  ].join('\n');
}

/**
 * The large pass: a fresh directory under the run's, the large database built there, a
 * server on it, the fixtures, the same scenarios. The small pass's figures stay in
 * run.results; the large pass's come back in the comparison.
 */
export async function runLargePass(run: RunState, current: { server?: Server }, sizes: LargeSizes): Promise<LargeComparison> {
  const { results } = run;
  const tmp = path.join(run.tmp, 'large');
  const built = buildLargeDatabase(path.join(tmp, 'gatehouse.sqlite'), sizes);
  log(`--large: built in ${built.seconds.toFixed(0)} s, ${(built.bytes / 2 ** 20).toFixed(0)} MiB`);
  const saved = { scenarios: results.scenarios, sessions: results.sessions, afterSetup: results.rss.afterSetup };
  const largeRun: RunState = { ...run, tmp };
  results.scenarios = {};
  try {
    const server = await startServer(largeRun);
    current.server = server;
    const started = Date.now();
    const fixtures = await setupFixtures(largeRun, server);
    log(`--large: fixtures in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await runScenarios(largeRun, server, fixtures);
    await server.stop();
    current.server = undefined;
    await server.cleanup();
    return { sizes, hashes: built.hashes, buildSeconds: built.seconds, bytes: built.bytes, small: saved.scenarios, large: results.scenarios };
  } finally {
    results.scenarios = saved.scenarios;
    results.sessions = saved.sessions;
    results.rss.afterSetup = saved.afterSetup;
  }
}
