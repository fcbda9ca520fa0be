// The CLI's last-resort error line (src/cli/describe-failure.ts), against a real failed query.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { DrizzleQueryError, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { describeFailure } from '../../src/cli/describe-failure.js';

test('a failed query reads as one line with its reason, which only its cause holds', () => {
  const db = drizzle(new Database(':memory:'));
  let failure: unknown;
  try {
    db.run(sql`SELECT *
      FROM missing_table`);
  } catch (error) {
    failure = error;
  }
  assert.ok(failure instanceof Error && !failure.message.includes('no such table'), 'the message alone lacks the reason');
  assert.equal(describeFailure(failure), "Failed to run the query 'SELECT * FROM missing_table': no such table: missing_table");
});

// Before, the CLI printed the wrapper's message: the statement and its bound values.
test('a failed query with bound values: the values are not printed, the reason is', () => {
  const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo';
  const failure = new DrizzleQueryError('insert into "users" ("username", "password_hash") values ($1, $2)', ['eve', hash], new Error('relation "users" does not exist'));
  const line = describeFailure(failure);
  assert.equal(line, 'a database query failed: relation "users" does not exist');
  assert.ok(!line.includes('argon2id') && !line.includes('eve'));
});

test('a long message is cut; a cycle of causes ends; a cause already quoted is not repeated; a thrown string is itself', () => {
  const long = new Error(`migration 0042 failed: ${'x'.repeat(500)}`, { cause: new Error('canceling statement due to statement timeout') });
  const line = describeFailure(long);
  assert.ok(line.endsWith('…: canceling statement due to statement timeout'), line);
  assert.ok(line.length < 260);
  const loop = new Error('a');
  (loop as { cause?: unknown }).cause = new Error('b', { cause: loop });
  assert.equal(describeFailure(loop), 'a: b');
  const refused = new Error('connect ECONNREFUSED 127.0.0.1:1');
  assert.equal(describeFailure(new Error(`database unavailable: ${refused.message}`, { cause: refused })), 'database unavailable: connect ECONNREFUSED 127.0.0.1:1', 'a cause already quoted is not repeated');
  assert.equal(describeFailure('plain'), 'plain');
});
