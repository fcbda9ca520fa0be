/** Authorization codes, OpenID Connect grants and consents: written once for both dialects. */
import { and, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import type { AuthorizationCode, OidcGrant, OidcStore } from '../../../services/oidc-ports.js';
import { bindRow, columnKeys, insertPlaceholders, placeholderFor, type Exec } from '../exec.js';
import { codeRow, grantRow, mergeScopes, toCode, toGrant } from '../oidc-mappers.js';
import { pruneInBatches } from './prune.js';
import { recordRevocations, sessionRevocations } from './revocations.js';

const ph = sql.placeholder;
/** A new code's columns that stay NULL until its redemption (markCodeUsed). */
const UNSPENT = ['usedAt', 'sessionId'];

export class DrizzleOidcStore implements OidcStore {
  // Prepared once (named on PostgreSQL): an authorization and a code exchange build no SQL.
  private readonly insertCode;
  private readonly codeByHash;
  private readonly spendCode;
  private readonly insertGrant;

  constructor(
    private readonly x: Exec,
    /** See DEFAULT_SESSION_RECORD_LIFETIME_MS. */
    private readonly recordLifetimeMs: number,
  ) {
    const { authorizationCodes: c, oidcGrants: g } = x.tables;
    this.insertCode = x.prepare('gatehouse_oidc_code_insert', (db) => db.insert(c).values(insertPlaceholders(c, UNSPENT)));
    this.codeByHash = x.prepare('gatehouse_oidc_code_by_hash', (db) => db.select().from(c).where(eq(c.hash, ph('hash'))));
    // Of two redemptions, exactly one finds the code unused.
    this.spendCode = x.prepare('gatehouse_oidc_code_spend', (db) =>
      db.update(c).set({ usedAt: sql`${placeholderFor(c.usedAt, 'usedAt')}`, sessionId: sql`${ph('sessionId')}` }).where(and(eq(c.hash, ph('hash')), isNull(c.usedAt))),
    );
    this.insertGrant = x.prepare('gatehouse_oidc_grant_insert', (db) => db.insert(g).values(insertPlaceholders(g)));
  }

  async saveCode(code: AuthorizationCode): Promise<void> {
    await this.insertCode.run(bindRow(columnKeys(this.x.tables.authorizationCodes, UNSPENT), codeRow(code)));
  }

  async findCode(hash: string): Promise<AuthorizationCode | undefined> {
    const row = await this.codeByHash.get({ hash });
    return row ? toCode(row) : undefined;
  }

  async markCodeUsed(hash: string, now: Date, sessionId: string): Promise<boolean> {
    return (await this.spendCode.run({ hash, usedAt: now, sessionId })) > 0;
  }

  async saveGrant(grant: OidcGrant): Promise<void> {
    await this.insertGrant.run(bindRow(columnKeys(this.x.tables.oidcGrants), grantRow(grant)));
  }

  async findGrant(sessionId: string): Promise<OidcGrant | undefined> {
    const { oidcGrants: t } = this.x.tables;
    const row = await this.x.get(this.x.db.select().from(t).where(eq(t.sessionId, sessionId)));
    return row ? toGrant(row) : undefined;
  }

  endSsoSession(ssoSessionId: string, now: Date, reason: string): Promise<Array<{ sessionId: string; clientId: string }>> {
    const { oidcGrants: g, sessions: s } = this.x.tables;
    return this.x.transaction(async (tx) => {
      const children = await tx.all(
        tx.db
          .select({ sessionId: g.sessionId, clientId: g.clientId })
          .from(g)
          .innerJoin(s, eq(s.id, g.sessionId))
          .where(and(eq(g.ssoSessionId, ssoSessionId), isNull(s.revokedAt))),
      );
      // One statement: the sign-on session and every session it signed in end together,
      // and the revocation feed records each of them in the same transaction.
      const revoked = await tx.returning(
        tx.db
          .update(s)
          .set({ revokedAt: now, revokeReason: reason })
          .where(and(isNull(s.revokedAt), or(eq(s.id, ssoSessionId), inArray(s.id, tx.db.select({ id: g.sessionId }).from(g).where(eq(g.ssoSessionId, ssoSessionId))))))
          .returning({ id: s.id }),
      );
      await recordRevocations(tx, now, sessionRevocations(revoked.map((r) => r.id), now, this.recordLifetimeMs));
      return children.filter((c) => c.sessionId !== ssoSessionId);
    });
  }

  async clientsOf(ssoSessionIds: string[]): Promise<Map<string, string[]>> {
    const result = new Map<string, string[]>();
    if (ssoSessionIds.length === 0) return result;
    const { oidcGrants: t } = this.x.tables;
    const rows = await this.x.all(this.x.db.selectDistinct({ sso: t.ssoSessionId, clientId: t.clientId }).from(t).where(inArray(t.ssoSessionId, ssoSessionIds)));
    for (const row of rows) result.set(row.sso, [...(result.get(row.sso) ?? []), row.clientId]);
    return result;
  }

  async findConsent(userId: number, clientId: string): Promise<string[] | undefined> {
    const { consents: t } = this.x.tables;
    const row = await this.x.get(this.x.db.select({ scope: t.scope }).from(t).where(and(eq(t.userId, userId), eq(t.clientId, clientId))));
    return row ? row.scope.split(' ').filter((s) => s !== '') : undefined;
  }

  async saveConsent(userId: number, clientId: string, scope: string[], now: Date): Promise<void> {
    const { consents: t } = this.x.tables;
    const before = await this.findConsent(userId, clientId);
    await this.x.run(
      this.x.db
        .insert(t)
        .values({ userId, clientId, scope: mergeScopes(before?.join(' '), scope), createdAt: now })
        .onConflictDoUpdate({ target: [t.userId, t.clientId], set: { scope: sql`excluded.scope` } }),
    );
  }

  async listConsents(userId: number): Promise<Array<{ clientId: string; scope: string[]; createdAt: Date }>> {
    const { consents: t } = this.x.tables;
    const rows = await this.x.all(this.x.db.select().from(t).where(eq(t.userId, userId)));
    return rows.map((row) => ({ clientId: row.clientId, scope: row.scope.split(' ').filter((s) => s !== ''), createdAt: row.createdAt }));
  }

  async revokeConsent(userId: number, clientId: string): Promise<boolean> {
    const { consents: t } = this.x.tables;
    return (await this.x.run(this.x.db.delete(t).where(and(eq(t.userId, userId), eq(t.clientId, clientId))))) > 0;
  }

  prune(before: Date): Promise<number> {
    const { authorizationCodes: t } = this.x.tables;
    return pruneInBatches(this.x, t, t.hash, t.expiresAt, before);
  }
}
