/**
 * SQLite's session hot paths (behind the SessionStore port, see ../stores/sessions.ts):
 * the revocation check as one prepared statement, and rotations batched into one write
 * transaction per turn of the event loop. The decision itself is ../stores/rotation.ts.
 */
import { eq, sql } from 'drizzle-orm';
import type { User } from '../../../domain/types.js';
import type { RotationOutcome, RotationRequest } from '../../../services/ports.js';
import { liveUser, ROTATED_COLUMNS, type LiveUserRow, type SessionRow as Row } from '../mappers.js';
import { planRotation, presentedAs, type Located } from '../stores/rotation.js';
import { tokenHashInsert, type SessionHotPaths } from '../stores/sessions.js';
import { refreshTokenHashes, revocationEvents, sessions } from '../schema/sqlite.js';
import { translateSqliteError } from './errors.js';
import type { SqliteExec } from './exec.js';

const ph = sql.placeholder;

/**
 * `SET column = ?` for each column, the value bound at execution under the column's own
 * name. drizzle wraps each set() value in a Param carrying the column's encoder, so a Date
 * given at execution is stored as integer milliseconds exactly like a literal Date; its
 * types just do not admit placeholders in set().
 */
function setPlaceholders<K extends keyof Row>(columns: readonly K[]): Pick<Row, K> {
  return Object.fromEntries(columns.map((column) => [column, ph(column)])) as unknown as Pick<Row, K>;
}

interface PendingRotation {
  request: RotationRequest;
  resolve: (outcome: RotationOutcome) => void;
  reject: (error: unknown) => void;
}

type BatchResult = { ok: true; outcome: RotationOutcome } | { ok: false; error: unknown };

export class SqliteSessionHotPaths implements SessionHotPaths {
  private readonly accessCheck;
  private readonly byHash;
  private readonly recordChild;
  private readonly rotateRow;
  private readonly touch;
  private readonly revokeForReuse;
  private readonly recordReuse;
  private readonly rotation;
  private readonly rotationBatch;
  /** Rotations waiting for the next batch (see rotate()). */
  private pending: PendingRotation[] = [];

  constructor(
    private readonly x: SqliteExec,
    /** See DEFAULT_SESSION_RECORD_LIFETIME_MS (stores/revocations.ts). */
    private readonly recordLifetimeMs: number,
  ) {
    const db = x.db;
    const raw = x.conn.raw;
    // The one indexed lookup of a rotation: the hash's row, then its session by primary key.
    this.byHash = db
      .select({ session: sessions })
      .from(refreshTokenHashes)
      .innerJoin(sessions, eq(sessions.id, refreshTokenHashes.sessionId))
      .where(eq(refreshTokenHashes.hash, ph('hash')))
      .prepare();
    this.recordChild = tokenHashInsert(db, x.tables).prepare();
    this.rotateRow = db.update(sessions).set(setPlaceholders(ROTATED_COLUMNS)).where(eq(sessions.id, ph('id'))).prepare();
    this.touch = db.update(sessions).set(setPlaceholders(['lastUsedAt'])).where(eq(sessions.id, ph('id'))).prepare();
    this.revokeForReuse = db
      .update(sessions)
      .set({ ...setPlaceholders(['revokedAt']), revokeReason: 'refresh_token_reuse' })
      .where(eq(sessions.id, ph('id')))
      .prepare();
    // The revocation feed's record, in the rotation's transaction (see stores/revocations.ts).
    this.recordReuse = db.insert(revocationEvents).values({ sessionId: ph('sessionId'), at: ph('at'), expiresAt: ph('expiresAt') }).prepare();
    // The transaction wrappers too are built once. Each rotation is its own transaction
    // function; run inside a batch's (see rotate()) better-sqlite3 makes it a SAVEPOINT.
    this.rotation = raw.transaction((request: RotationRequest) => this.rotateLocked(request));
    this.rotationBatch = raw.transaction((batch: PendingRotation[]) =>
      batch.map((pending): BatchResult => {
        try {
          return { ok: true, outcome: this.rotation(pending.request) };
        } catch (error) {
          // Rolled back to its savepoint: it fails alone. Unless SQLite ended the whole
          // transaction (a full disk, an I/O error): then nothing of the batch is kept.
          if (!raw.inTransaction) throw error;
          return { ok: false, error: translateSqliteError(error) };
        }
      }),
    );
    // The per-request revocation check: one primary-key lookup plus one on revoked_tokens.
    // The session is a scalar subquery, not a join: once ANALYZE has written sqlite_stat4
    // (an operator's ANALYZE or PRAGMA optimize; Gatehouse runs neither), SQLite re-plans a
    // join like this one at every execution, because the bound session id could change its
    // join order. That doubled the check's cost (~10 -> ~20 µs, docs/performance.md); this
    // form has one plan whatever the statistics, and gives the same answer.
    this.accessCheck = raw.prepare<[string, number, string], LiveUserRow>(
      `SELECT u.id, u.username, u.email, u.email_verified, u.password_hash, u.created_at
         FROM users u
        WHERE u.id = (SELECT s.user_id FROM sessions s WHERE s.id = ? AND s.revoked_at IS NULL AND s.expires_at > ?)
          AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?)`,
    );
  }

  /** The body of the rotation's transaction (see rotate()). */
  private rotateLocked(request: RotationRequest): RotationOutcome {
    const { outcome, write } = planRotation(request, this.locate(request.presentedHash));
    switch (write?.kind) {
      case 'rotate':
        this.recordChild.run({ hash: write.childHash, sessionId: write.id, expiresAt: write.childExpiresAt });
        this.rotateRow.run({ ...write.columns, id: write.id });
        break;
      case 'touch':
        this.touch.run({ lastUsedAt: write.at, id: write.id });
        break;
      case 'revoke_for_reuse':
        this.revokeForReuse.run({ revokedAt: write.at, id: write.id });
        this.recordReuse.run({ sessionId: write.id, at: write.at, expiresAt: new Date(write.at.getTime() + this.recordLifetimeMs) });
        break;
    }
    return outcome;
  }

  private locate(hash: string): Located | undefined {
    const found = this.byHash.get({ hash });
    return found ? presentedAs(found.session, hash) : undefined;
  }

  /**
   * Rotations arriving in the same turn of the event loop (requests parsed from the same
   * poll) run as one write transaction, each in its own savepoint, at the next
   * setImmediate: one BEGIN IMMEDIATE / COMMIT (locks, WAL header, commit frame) for all of
   * them instead of one each. BEGIN IMMEDIATE takes SQLite's write lock before reading, so
   * refreshes of a session (from this process or another) still run one after the other
   * against fresh state; two of one session in one batch see each other, in order.
   */
  rotate(request: RotationRequest): Promise<RotationOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ request, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.runBatch());
    });
  }

  private async runBatch(): Promise<void> {
    // A transaction of the ConnectionGate is open: the batch waits for it to end.
    for (let waiting = this.x.gate.wait(); waiting; waiting = this.x.gate.wait()) await waiting;
    const batch = this.pending;
    this.pending = [];
    let results: BatchResult[];
    try {
      results = this.rotationBatch.immediate(batch);
    } catch (error) {
      for (const pending of batch) pending.reject(translateSqliteError(error));
      return;
    }
    try {
      // Whatever the outcome, an answer may rest on commits not flushed yet (this one, or
      // the rotation a replay hands back): flush before answering.
      await this.x.conn.durable();
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    results.forEach((result, i) => (result.ok ? batch[i]!.resolve(result.outcome) : batch[i]!.reject(result.error)));
  }

  async findLiveSessionUser(sessionId: string, tokenId: string, now: Date): Promise<User | undefined> {
    // Awaited only while a transaction is open (see ConnectionGate).
    for (let waiting = this.x.gate.wait(); waiting; waiting = this.x.gate.wait()) await waiting;
    let row;
    try {
      row = this.accessCheck.get(sessionId, now.getTime(), tokenId);
    } catch (error) {
      throw translateSqliteError(error);
    }
    return row ? liveUser(row) : undefined;
  }
}
