import { and, desc, eq, gt, isNotNull, isNull, lt, ne, or } from 'drizzle-orm';
import type { TokenMatch } from '../../../domain/refresh-rotation.js';
import type { Session, User } from '../../../domain/types.js';
import { liveUser, rotatedSession, toSession, type LiveUserRow, type SessionRow as Row } from '../mappers.js';
import type { NewSession, RotationOutcome, RotationRequest, SessionStore } from '../../../services/ports.js';
import { retiredRefreshTokens, sessions } from '../schema/sqlite.js';
import type { SqliteConnection } from './connection.js';

export class SqliteSessionStore implements SessionStore {
  private readonly accessCheck;

  constructor(private readonly conn: SqliteConnection) {
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
    const [row] = this.db
      .insert(sessions)
      .values({ ...session, lastUsedAt: session.createdAt })
      .returning()
      .all();
    return toSession(row!);
  }

  async rotate(request: RotationRequest): Promise<RotationOutcome> {
    // BEGIN IMMEDIATE takes SQLite's write lock before reading, so refreshes of a session
    // (from this process or another) run one after the other against fresh state.
    const run = this.conn.raw.transaction((): RotationOutcome => {
      const found = this.locate(request.presentedHash);
      if (!found) return { found: false };
      const { row, match } = found;
      const session = toSession(row);
      const decision = request.decide(match, session);
      const now = request.now;
      switch (decision.kind) {
        case 'rotate': {
          if (row.previousHash !== null) {
            this.db
              .insert(retiredRefreshTokens)
              .values({ hash: row.previousHash, sessionId: row.id, retiredAt: now })
              .onConflictDoNothing()
              .run();
          }
          const [updated] = this.db
            .update(sessions)
            .set(rotatedSession(row, request))
            .where(eq(sessions.id, row.id))
            .returning()
            .all();
          return { found: true, session: toSession(updated!), decision, seal: null };
        }
        case 'replay':
          this.db.update(sessions).set({ lastUsedAt: now }).where(eq(sessions.id, row.id)).run();
          return { found: true, session, decision, seal: row.childSeal };
        case 'reuse':
          this.db
            .update(sessions)
            .set({ revokedAt: now, revokeReason: 'refresh_token_reuse' })
            .where(eq(sessions.id, row.id))
            .run();
          return { found: true, session: { ...session, revokedAt: now }, decision, seal: null };
        case 'refuse':
          return { found: true, session, decision, seal: null };
      }
    });
    return run.immediate();
  }

  private locate(hash: string): { row: Row; match: TokenMatch } | undefined {
    const byToken = this.db
      .select()
      .from(sessions)
      .where(or(eq(sessions.refreshHash, hash), eq(sessions.previousHash, hash)))
      .get();
    if (byToken) return { row: byToken, match: byToken.refreshHash === hash ? 'current' : 'previous' };
    const retired = this.db
      .select({ session: sessions })
      .from(retiredRefreshTokens)
      .innerJoin(sessions, eq(sessions.id, retiredRefreshTokens.sessionId))
      .where(eq(retiredRefreshTokens.hash, hash))
      .get();
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
    return result.changes > 0;
  }

  async revokeOwned(sessionId: string, userId: number, now: Date, reason: string): Promise<boolean> {
    const result = this.db
      .update(sessions)
      .set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .run();
    return result.changes > 0;
  }

  async revokeAllForUser(userId: number, now: Date, reason: string, keep?: string): Promise<number> {
    const result = this.db
      .update(sessions)
      .set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), keep === undefined ? undefined : ne(sessions.id, keep)))
      .run();
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
    return result.changes;
  }
}
