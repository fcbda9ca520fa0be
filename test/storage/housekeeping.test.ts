/**
 * Housekeeping the server runs on its own (the hourly prune) uses indexes, and drains a
 * large backlog in batches that never hold the event loop for long.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import path from 'node:path';
import { DIALECT } from '../helpers/app.js';
import { openTestStores } from '../helpers/stores.js';
import { PRUNE_BATCH } from '../../src/storage/drizzle/stores/prune.js';

const sqliteOnly = DIALECT !== 'sqlite' && 'SQLite only: a PostgreSQL delete does not run on the event loop';
/** Tables that grow with users and their activity. */
const GROWING = /\bSCAN (users|sessions|refresh_token_hashes|revoked_tokens|email_tokens|security_events)\b/;

test('every statement of the prune is served by an index: no SCAN of a growing table', { skip: sqliteOnly }, async (t) => {
  const statements: string[] = [];
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function (this: Database.Database, source: string) {
    statements.push(source);
    return prepare.call(this, source);
  } as typeof prepare;
  t.after(() => (Database.prototype.prepare = prepare));
  const { stores, dir } = await openTestStores(t);
  statements.length = 0;
  const now = new Date();
  await stores.sessions.prune(now);
  await stores.revokedTokens.prune(now);
  await stores.emailTokens.prune(now);
  Database.prototype.prepare = prepare;
  const deletes = statements.filter((s) => /^\s*delete/i.test(s));
  assert.ok(deletes.length >= 5, `the prune's deletes were seen: ${deletes.length}`);
  const db = new Database(path.join(dir, 'gatehouse.sqlite'), { readonly: true });
  t.after(() => db.close());
  for (const statement of deletes) {
    const params = (statement.match(/\?/g) ?? []).map(() => 0);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${statement}`).all(...params) as Array<{ detail: string }>).map((row) => row.detail);
    assert.ok(plan.some((line) => /USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY|PRIMARY KEY/.test(line)), `${statement}\n${plan.join('\n')}`);
    assert.ok(!plan.some((line) => GROWING.test(line)), `a scan in:\n${statement}\n${plan.join('\n')}`);
  }
});

test('pruning a large backlog never blocks the event loop for long at a time', { skip: sqliteOnly }, async (t) => {
  // As the server runs it: WAL checkpoints on their worker thread, not in commits.
  const { stores, dir } = await openTestStores(t, { server: true });
  const user = await stores.users.create({ username: 'many', usernameKey: 'many', email: 'm@x', emailKey: 'm@x', passwordHash: 'h', createdAt: new Date() });
  const ROWS = 20_000;
  const old = Date.now() - 10 * 86_400_000;
  // Filled through a second connection in one transaction (fast), half expired, half revoked.
  const writer = new Database(path.join(dir, 'gatehouse.sqlite'));
  const insert = writer.prepare(
    'INSERT INTO sessions (id, user_id, client_id, refresh_hash, generation, created_at, last_used_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)',
  );
  writer.transaction(() => {
    for (let i = 0; i < ROWS; i++) insert.run(`s${i}`, user.id, 'gatehouse', `h${i}`, old, old, i % 2 ? old + 1000 : Date.now() + 86_400_000, i % 2 ? null : old);
  })();
  writer.close();

  // What holds the event loop is a statement, so the rule is checked on the statements, not
  // on a clock (a loaded CI machine made timed gaps fail on scheduling alone): every DELETE
  // the prune runs removes at most PRUNE_BATCH rows, and the event loop turns (a
  // setImmediate of ours runs) between any two of them.
  const events: Array<{ kind: 'delete'; rows: number } | { kind: 'turn' }> = [];
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function (this: Database.Database, source: string) {
    const statement = prepare.call(this, source);
    if (!/^\s*delete\s+from\s+"?sessions"?/i.test(source)) return statement;
    const run = statement.run as (this: unknown, ...params: unknown[]) => Database.RunResult;
    statement.run = function (this: unknown, ...params: unknown[]) {
      const result = run.apply(this, params);
      events.push({ kind: 'delete', rows: result.changes });
      return result;
    } as typeof statement.run;
    return statement;
  } as typeof prepare;
  t.after(() => (Database.prototype.prepare = prepare));
  let turning = true;
  const turn = () => {
    if (events.at(-1)?.kind !== 'turn') events.push({ kind: 'turn' });
    if (turning) setImmediate(turn);
  };
  setImmediate(turn);
  const pruned = await stores.sessions.prune(new Date());
  turning = false;
  Database.prototype.prepare = prepare;

  assert.equal(pruned, ROWS);
  const deletes = events.filter((e) => e.kind === 'delete');
  assert.equal(deletes.reduce((sum, e) => sum + e.rows, 0), ROWS, 'every pruned row was removed by a DELETE seen here');
  assert.ok(deletes.length >= ROWS / PRUNE_BATCH, `${deletes.length} batches`);
  for (const e of deletes) assert.ok(e.rows <= PRUNE_BATCH, `a DELETE removed ${e.rows} rows at once`);
  const backToBack = events.findIndex((e, i) => i > 0 && e.kind === 'delete' && events[i - 1].kind === 'delete');
  assert.equal(backToBack, -1, 'two batches ran without the event loop turning between them');
  t.diagnostic(`${deletes.length} batches of at most ${PRUNE_BATCH} rows, the event loop turning between each`);
});
