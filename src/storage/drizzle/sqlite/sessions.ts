import { and, desc, eq, gt, isNotNull, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { TokenMatch } from '../../../domain/refresh-rotation.js';
import type { Session, User } from '../../../domain/types.js';
import { liveUser, ROTATED_COLUMNS, rotatedSession, toSession, type LiveUserRow, type SessionRow as Row } from '../mappers.js';
import type { NewSession, RotationOutcome, RotationRequest, SessionStore } from '../../../services/ports.js';
import { retiredRefreshTokens, sessions } from '../schema/sqlite.js';
import type { SqliteConnection } from './connection.js';

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

export class SqliteSessionStore implements SessionStore {
  private readonly accessCheck;
  // Prepared once (drizzle's .prepare(): SQL built here, rows mapped by the schema as
  // before): no statement is built per request on the login and refresh paths.
  private readonly insert;
  private readonly byToken;
  private readonly byRetired;
  private readonly retire;
  private readonly rotateRow;
  private readonly touch;
  private readonly revokeForReuse;
  private readonly rotation;
  private readonly rotationBatch;
  /** Rotations waiting for the next batch (see rotate()). */
  private pending: PendingRotation[] = [];

  constructor(private readonly conn: SqliteConnection) {
    const db = conn.db;
    this.insert = db
      .insert(sessions)
      .values({
        id: ph('id'),
        userId: ph('userId'),
        clientId: ph('clientId'),
        refreshHash: ph('refreshHash'),
        userAgent: ph('userAgent'),
        ip: ph('ip'),
        createdAt: ph('createdAt'),
        lastUsedAt: ph('createdAt'),
        expiresAt: ph('expiresAt'),
      })
      .returning()
      .prepare();
    this.byToken = db
      .select()
      .from(sessions)
      .where(or(eq(sessions.refreshHash, ph('hash')), eq(sessions.previousHash, ph('hash'))))
      .prepare();
    this.byRetired = db
      .select({ session: sessions })
      .from(retiredRefreshTokens)
      .innerJoin(sessions, eq(sessions.id, retiredRefreshTokens.sessionId))
      .where(eq(retiredRefreshTokens.hash, ph('hash')))
      .prepare();
    this.retire = db
      .insert(retiredRefreshTokens)
      .values({ hash: ph('hash'), sessionId: ph('sessionId'), retiredAt: ph('retiredAt') })
      .onConflictDoNothing()
      .prepare();
    this.rotateRow = db
      .update(sessions)
      .set(setPlaceholders(ROTATED_COLUMNS))
      .where(eq(sessions.id, ph('id')))
      .returning()
      .prepare();
    this.touch = db
      .update(sessions)
      .set(setPlaceholders(['lastUsedAt']))
      .where(eq(sessions.id, ph('id')))
      .prepare();
    this.revokeForReuse = db
      .update(sessions)
      .set({ ...setPlaceholders(['revokedAt']), revokeReason: 'refresh_token_reuse' })
      .where(eq(sessions.id, ph('id')))
      .prepare();
    // The transaction wrappers too are built once. Each rotation is its own transaction
    // function; run inside a batch's (see rotate()) better-sqlite3 makes it a SAVEPOINT.
    this.rotation = conn.raw.transaction((request: RotationRequest) => this.rotateLocked(request));
    this.rotationBatch = conn.raw.transaction((batch: PendingRotation[]) =>
      batch.map((pending): BatchResult => {
        try {
          return { ok: true, outcome: this.rotation(pending.request) };
        } catch (error) {
          // Rolled back to its savepoint: it fails alone. Unless SQLite ended the whole
          // transaction (a full disk, an I/O error): then nothing of the batch is kept.
          if (!conn.raw.inTransaction) throw error;
          return { ok: false, error };
        }
      }),
    );
    // The per-request revocation check: one primary-key lookup plus one on revoked_tokens.
    this.accessCheck = conn.raw.prepare<[string, number, string], LiveUserRow>(
      `SELECT u.id, u.username, u.email, u.email_verified, u.password_hash, u.created_at
         FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = ? AND s.revoked_at IS NULL AND s.expires_at > ?
          AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?)`,
    );
  }

  private get db() {
    return this.conn.db;
  }

  async create(session: NewSession): Promise<Session> {
    const row = this.insert.get({
      id: session.id,
      userId: session.userId,
      clientId: session.clientId,
      refreshHash: session.refreshHash,
      userAgent: session.userAgent ?? null,
      ip: session.ip ?? null,
      createdAt: session.createdAt,
      expiresAt: session.expiresAt,
    });
    await this.conn.durable();
    return toSession(row!);
  }

  /** The body of the rotation's transaction (see rotate()). */
  private rotateLocked(request: RotationRequest): RotationOutcome {
    const found = this.locate(request.presentedHash);
    if (!found) return { found: false };
    const { row, match } = found;
    const session = toSession(row);
    const decision = request.decide(match, session);
    const now = request.now;
    switch (decision.kind) {
      case 'rotate': {
        if (row.previousHash !== null) this.retire.run({ hash: row.previousHash, sessionId: row.id, retiredAt: now });
        const updated = this.rotateRow.get({ ...rotatedSession(row, request), id: row.id });
        return { found: true, session: toSession(updated!), decision, seal: null };
      }
      case 'replay':
        this.touch.run({ lastUsedAt: now, id: row.id });
        return { found: true, session, decision, seal: row.childSeal };
      case 'reuse':
        this.revokeForReuse.run({ revokedAt: now, id: row.id });
        return { found: true, session: { ...session, revokedAt: now }, decision, seal: null };
      case 'refuse':
        return { found: true, session, decision, seal: null };
    }
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
    const batch = this.pending;
    this.pending = [];
    let results: BatchResult[];
    try {
      results = this.rotationBatch.immediate(batch);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    try {
      // Whatever the outcome, an answer may rest on commits not flushed yet (this one, or
      // the rotation a replay hands back): flush before answering.
      await this.conn.durable();
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    results.forEach((result, i) => (result.ok ? batch[i]!.resolve(result.outcome) : batch[i]!.reject(result.error)));
  }

  private locate(hash: string): { row: Row; match: TokenMatch } | undefined {
    const byToken = this.byToken.get({ hash });
    if (byToken) return { row: byToken, match: byToken.refreshHash === hash ? 'current' : 'previous' };
    const retired = this.byRetired.get({ hash });
    return retired ? { row: retired.session, match: 'retired' } : undefined;
  }

  async findByRefreshHash(hash: string): Promise<Session | undefined> {
    const row = this.db.select().from(sessions).where(eq(sessions.refreshHash, hash)).get();
    return row ? toSession(row) : undefined;
  }

  async findLiveSessionUser(sessionId: string, tokenId: string, now: Date): Promise<User | undefined> {
    const row = this.accessCheck.get(sessionId, now.getTime(), tokenId);
    return row ? liveUser(row) : undefined;
  }

  async revoke(sessionId: string, now: Date, reason: string): Promise<boolean> {
    const result = this.db
      .update(sessions)
      .set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
      .run();
    await this.conn.durable();
    return result.changes > 0;
  }

  async revokeOwned(sessionId: string, userId: number, now: Date, reason: string): Promise<boolean> {
    const result = this.db
      .update(sessions)
      .set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .run();
    await this.conn.durable();
    return result.changes > 0;
  }

  async revokeAllForUser(userId: number, now: Date, reason: string, keep?: string): Promise<number> {
    const result = this.db
      .update(sessions)
      .set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), keep === undefined ? undefined : ne(sessions.id, keep)))
      .run();
    await this.conn.durable();
    return result.changes;
  }

  async listActive(userId: number, now: Date): Promise<Session[]> {
    return this.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .orderBy(desc(sessions.createdAt))
      .all()
      .map(toSession);
  }

  async prune(before: Date): Promise<number> {
    const result = this.db
      .delete(sessions)
      .where(or(lt(sessions.expiresAt, before), and(isNotNull(sessions.revokedAt), lt(sessions.revokedAt, before))))
      .run();
    await this.conn.durable();
    return result.changes;
  }
}
