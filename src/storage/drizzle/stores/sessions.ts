import { and, desc, eq, gt, isNotNull, isNull, ne, sql, type SQL } from 'drizzle-orm';
import type { Session, User } from '../../../domain/types.js';
import type { NewSession, RotationOutcome, RotationRequest, SessionStore } from '../../../services/ports.js';
import type { Db, Exec, Tables } from '../exec.js';
import { amrColumn, toSession } from '../mappers.js';
import { pruneInBatches } from './prune.js';
import { recordRevocations, sessionRevocations } from './revocations.js';

const ph = sql.placeholder;

/**
 * The two measured hot paths, which each dialect implements its own way (sqlite/sessions.ts:
 * rotations batched into one write transaction; pg/sessions.ts: revocation checks batched
 * into one statement, rotations as named statements on one client).
 */
export interface SessionHotPaths {
  rotate(request: RotationRequest): Promise<RotationOutcome>;
  findLiveSessionUser(sessionId: string, tokenId: string, now: Date): Promise<User | undefined>;
}

/** The session row of a login (prepared once per connection, by name). */
const insertSession = (x: Exec) =>
  x.prepare('gatehouse_session_insert', (db) => {
    const { sessions } = x.tables;
    return db
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
        amr: ph('amr'),
      })
      .returning();
  });

/**
 * The lookup row of a refresh token's hash (see refresh_token_hashes in the schema):
 * written here for a session's first token, and by SQLite's rotation (sqlite/sessions.ts)
 * for each child. PostgreSQL's rotation writes it inside its one-round-trip statement.
 */
export const tokenHashInsert = (db: Db, tables: Tables) =>
  db.insert(tables.refreshTokenHashes).values({ hash: ph('hash'), sessionId: ph('sessionId'), expiresAt: ph('expiresAt') });

const insertTokenHash = (x: Exec) => x.prepare('gatehouse_refresh_token_hash_insert', (db) => tokenHashInsert(db, x.tables));

export class DrizzleSessionStore implements SessionStore {
  constructor(
    private readonly x: Exec,
    private readonly hot: SessionHotPaths,
    private readonly recordLifetimeMs: number,
  ) {}

  /** The session and its first token's hash, in one transaction (the caller's, when open). */
  create(session: NewSession): Promise<Session> {
    return this.x.transaction(async (tx) => {
      const [row] = await insertSession(tx).returning({ ...session, userAgent: session.userAgent ?? null, ip: session.ip ?? null, amr: amrColumn(session.amr) });
      await insertTokenHash(tx).run({ hash: session.refreshHash, sessionId: session.id, expiresAt: session.expiresAt });
      return toSession(row!);
    });
  }

  rotate(request: RotationRequest): Promise<RotationOutcome> {
    return this.hot.rotate(request);
  }

  findLiveSessionUser(sessionId: string, tokenId: string, now: Date): Promise<User | undefined> {
    return this.hot.findLiveSessionUser(sessionId, tokenId, now);
  }

  async findByRefreshHash(hash: string): Promise<Session | undefined> {
    const { sessions: s, refreshTokenHashes: h } = this.x.tables;
    const row = await this.x.get(
      this.x.db
        .select({ session: s })
        .from(h)
        .innerJoin(s, eq(s.id, h.sessionId))
        .where(and(eq(h.hash, hash), eq(s.refreshHash, hash))),
    );
    return row ? toSession(row.session) : undefined;
  }

  // Every revocation writes its record for the revocation feed in the same transaction
  // (a transaction of its own, or the caller's: x.transaction joins an open one).

  async revoke(sessionId: string, now: Date, reason: string): Promise<boolean> {
    const { sessions: s } = this.x.tables;
    return (await this.revokeWhere(and(eq(s.id, sessionId), isNull(s.revokedAt)), now, reason)) > 0;
  }

  async revokeOwned(sessionId: string, userId: number, now: Date, reason: string): Promise<boolean> {
    const { sessions: s } = this.x.tables;
    return (await this.revokeWhere(and(eq(s.id, sessionId), eq(s.userId, userId), isNull(s.revokedAt), gt(s.expiresAt, now)), now, reason)) > 0;
  }

  revokeAllForUser(userId: number, now: Date, reason: string, keep?: string): Promise<number> {
    const { sessions: s } = this.x.tables;
    return this.revokeWhere(and(eq(s.userId, userId), isNull(s.revokedAt), keep === undefined ? undefined : ne(s.id, keep)), now, reason);
  }

  private revokeWhere(where: SQL | undefined, now: Date, reason: string): Promise<number> {
    return this.x.transaction(async (tx) => {
      const { sessions: s } = tx.tables;
      const revoked = await tx.returning(tx.db.update(s).set({ revokedAt: now, revokeReason: reason }).where(where).returning({ id: s.id }));
      await recordRevocations(tx, now, sessionRevocations(revoked.map((r) => r.id), now, this.recordLifetimeMs));
      return revoked.length;
    });
  }

  async listActive(userId: number, now: Date): Promise<Session[]> {
    const { sessions: s } = this.x.tables;
    const rows = await this.x.all(
      this.x.db
        .select()
        .from(s)
        .where(and(eq(s.userId, userId), isNull(s.revokedAt), gt(s.expiresAt, now)))
        .orderBy(desc(s.createdAt)),
    );
    return rows.map(toSession);
  }

  /**
   * Two indexed passes instead of one `expired OR revoked` scan: expired sessions by
   * sessions_expires_at_idx, revoked ones by the partial sessions_revoked_at_idx. Then the
   * refresh-token hashes that expired before `before`, by their own index: a deleted
   * session's hashes go then, not with it (no foreign key, see the schema), and until then
   * they find no session.
   */
  async prune(before: Date): Promise<number> {
    const { sessions: s, refreshTokenHashes: h } = this.x.tables;
    const expired = await pruneInBatches(this.x, s, s.id, s.expiresAt, before);
    const revoked = await pruneInBatches(this.x, s, s.id, s.revokedAt, before, isNotNull(s.revokedAt));
    await pruneInBatches(this.x, h, h.hash, h.expiresAt, before);
    return expired + revoked;
  }
}
