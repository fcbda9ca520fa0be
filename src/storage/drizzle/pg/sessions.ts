import { and, desc, eq, gt, isNotNull, isNull, lt, ne, or } from 'drizzle-orm';
import type { TokenMatch } from '../../../domain/refresh-rotation.js';
import type { Session, User } from '../../../domain/types.js';
import { liveUser, rotatedSession, toSession, type LiveUserRow, type SessionRow as Row } from '../mappers.js';
import type { NewSession, RotationOutcome, RotationRequest, SessionStore } from '../../../services/ports.js';
import { retiredRefreshTokens, sessions } from '../schema/pg.js';
import type { PgConnection, PgDb } from './connection.js';

type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0];

export class PgSessionStore implements SessionStore {
  constructor(private readonly conn: PgConnection) {}

  private get db() {
    return this.conn.db;
  }

  async create(session: NewSession): Promise<Session> {
    const [row] = await this.db
      .insert(sessions)
      .values({ ...session, lastUsedAt: session.createdAt })
      .returning();
    return toSession(row!);
  }

  async rotate(request: RotationRequest): Promise<RotationOutcome> {
    return this.db.transaction(async (tx) => {
      // SELECT ... FOR UPDATE: a second refresh of this session (on any instance) waits
      // here, then re-reads the row as the first one left it.
      const found = await this.locate(tx, request.presentedHash);
      if (!found) return { found: false } as const;
      const { row, match } = found;
      const session = toSession(row);
      const decision = request.decide(match, session);
      const now = request.now;
      switch (decision.kind) {
        case 'rotate': {
          if (row.previousHash !== null) {
            await tx
              .insert(retiredRefreshTokens)
              .values({ hash: row.previousHash, sessionId: row.id, retiredAt: now })
              .onConflictDoNothing();
          }
          const [updated] = await tx
            .update(sessions)
            .set(rotatedSession(row, request))
            .where(eq(sessions.id, row.id))
            .returning();
          return { found: true, session: toSession(updated!), decision, seal: null } as const;
        }
        case 'replay':
          await tx.update(sessions).set({ lastUsedAt: now }).where(eq(sessions.id, row.id));
          return { found: true, session, decision, seal: row.childSeal } as const;
        case 'reuse':
          await tx
            .update(sessions)
            .set({ revokedAt: now, revokeReason: 'refresh_token_reuse' })
            .where(eq(sessions.id, row.id));
          return { found: true, session: { ...session, revokedAt: now }, decision, seal: null } as const;
        case 'refuse':
          return { found: true, session, decision, seal: null } as const;
      }
    });
  }

  private async locate(tx: Tx, hash: string): Promise<{ row: Row; match: TokenMatch } | undefined> {
    const [byToken] = await tx
      .select()
      .from(sessions)
      .where(or(eq(sessions.refreshHash, hash), eq(sessions.previousHash, hash)))
      .for('update');
    if (byToken) return { row: byToken, match: byToken.refreshHash === hash ? 'current' : 'previous' };
    const [retired] = await tx
      .select({ session: sessions })
      .from(retiredRefreshTokens)
      .innerJoin(sessions, eq(sessions.id, retiredRefreshTokens.sessionId))
      .where(eq(retiredRefreshTokens.hash, hash))
      .for('update', { of: sessions });
    return retired ? { row: retired.session, match: 'retired' } : undefined;
  }

  async findByRefreshHash(hash: string): Promise<Session | undefined> {
    const [row] = await this.db.select().from(sessions).where(eq(sessions.refreshHash, hash));
    return row ? toSession(row) : undefined;
  }

  async findLiveSessionUser(sessionId: string, tokenId: string, now: Date): Promise<User | undefined> {
    // A named statement: parsed and planned once per connection.
    const result = await this.conn.pool.query<LiveUserRow>({
      name: 'gatehouse_live_session_user',
      text: `SELECT u.id, u.username, u.email, u.email_verified, u.password_hash, u.created_at
               FROM sessions s JOIN users u ON u.id = s.user_id
              WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
                AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $3)`,
      values: [sessionId, now, tokenId],
    });
    const row = result.rows[0];
    return row ? liveUser(row) : undefined;
  }

  async revoke(sessionId: string, now: Date, reason: string): Promise<boolean> {
    const rows = await this.db
      .update(sessions)
      .set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    return rows.length > 0;
  }

  async revokeOwned(sessionId: string, userId: number, now: Date, reason: string): Promise<boolean> {
    const rows = await this.db
      .update(sessions)
      .set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .returning({ id: sessions.id });
    return rows.length > 0;
  }

  async revokeAllForUser(userId: number, now: Date, reason: string, keep?: string): Promise<number> {
    const rows = await this.db
      .update(sessions)
      .set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), keep === undefined ? undefined : ne(sessions.id, keep)))
      .returning({ id: sessions.id });
    return rows.length;
  }

  async listActive(userId: number, now: Date): Promise<Session[]> {
    const rows = await this.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .orderBy(desc(sessions.createdAt));
    return rows.map(toSession);
  }

  async prune(before: Date): Promise<number> {
    const rows = await this.db
      .delete(sessions)
      .where(or(lt(sessions.expiresAt, before), and(isNotNull(sessions.revokedAt), lt(sessions.revokedAt, before))))
      .returning({ id: sessions.id });
    return rows.length;
  }
}
