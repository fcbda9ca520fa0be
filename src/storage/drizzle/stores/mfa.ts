/** Second factors, recovery codes and login challenges: one store over both dialects. */
import { and, count, eq, gt, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import type { MfaFactor } from '../../../domain/types.js';
import type { AuthChallenge, MfaStore, NewFactor } from '../../../services/ports.js';
import { placeholderFor, type Exec } from '../exec.js';
import { factorRow, toChallenge, toFactor } from '../mappers.js';
import { pruneInBatches } from './prune.js';

const ph = sql.placeholder;

export class DrizzleMfaStore implements MfaStore {
  // Prepared once (named on PostgreSQL): what every second step runs builds no SQL.
  private readonly liveChallenge;
  private readonly spendChallenge;
  private readonly activeFactors;
  private readonly laterStep;

  constructor(private readonly x: Exec) {
    const { authChallenges: c, mfaFactors: f } = x.tables;
    // Built only when first prepared (each transaction makes its own store objects).
    const live = () => and(eq(c.hash, ph('hash')), eq(c.kind, ph('kind')), isNull(c.usedAt), gt(c.expiresAt, placeholderFor(c.expiresAt, 'now')));
    this.liveChallenge = x.prepare('gatehouse_mfa_challenge_live', (db) => db.select().from(c).where(live()));
    this.spendChallenge = x.prepare('gatehouse_mfa_challenge_spend', (db) => db.update(c).set({ usedAt: sql`${placeholderFor(c.usedAt, 'now')}` }).where(live()).returning());
    this.activeFactors = x.prepare('gatehouse_mfa_active_factors', (db) =>
      db.select().from(f).where(and(eq(f.userId, ph('userId')), isNotNull(f.activatedAt))).orderBy(f.createdAt),
    );
    // Forward only (RFC 6238 §5.2): a step at or before the last accepted one changes nothing.
    this.laterStep = x.prepare('gatehouse_mfa_record_step', (db) =>
      db
        .update(f)
        .set({ lastStep: sql`${ph('step')}`, lastUsedAt: sql`${placeholderFor(f.lastUsedAt, 'now')}` })
        .where(and(eq(f.id, ph('factorId')), or(isNull(f.lastStep), lt(f.lastStep, ph('step'))))),
    );
  }

  async lockUser(userId: number): Promise<void> {
    // PostgreSQL: factor changes of one user queue on the user's row. SQLite: a write
    // transaction already excludes every other writer.
    if (this.x.dialect === 'pg') await this.x.raw(sql`SELECT id FROM users WHERE id = ${userId} FOR UPDATE`);
  }

  createPendingTotp(factor: NewFactor): Promise<void> {
    return this.x.transaction(async (tx) => {
      const { mfaFactors: t } = tx.tables;
      await tx.run(tx.db.delete(t).where(and(eq(t.userId, factor.userId), eq(t.type, 'totp'), isNull(t.activatedAt))));
      await tx.run(tx.db.insert(t).values(factorRow(factor, null)));
    });
  }

  async findFactor(id: string, userId: number): Promise<MfaFactor | undefined> {
    const { mfaFactors: t } = this.x.tables;
    const row = await this.x.get(this.x.db.select().from(t).where(and(eq(t.id, id), eq(t.userId, userId))));
    return row ? toFactor(row) : undefined;
  }

  async findByCredentialId(credentialId: string): Promise<MfaFactor | undefined> {
    const { mfaFactors: t } = this.x.tables;
    const row = await this.x.get(this.x.db.select().from(t).where(and(eq(t.credentialId, credentialId), isNotNull(t.activatedAt))));
    return row ? toFactor(row) : undefined;
  }

  async listActive(userId: number): Promise<MfaFactor[]> {
    return (await this.activeFactors.all({ userId })).map(toFactor);
  }

  async hasActive(userId: number): Promise<boolean> {
    const { mfaFactors: t } = this.x.tables;
    const row = await this.x.get(this.x.db.select({ id: t.id }).from(t).where(and(eq(t.userId, userId), isNotNull(t.activatedAt))).limit(1));
    return row !== undefined;
  }

  async activatePending(factorId: string, userId: number, now: Date): Promise<boolean> {
    const { mfaFactors: t } = this.x.tables;
    const changed = await this.x.run(
      this.x.db.update(t).set({ activatedAt: now }).where(and(eq(t.id, factorId), eq(t.userId, userId), isNull(t.activatedAt))),
    );
    return changed > 0;
  }

  async insertActive(factor: NewFactor, now: Date): Promise<boolean> {
    const { mfaFactors: t } = this.x.tables;
    // A credential registered already is no error that would abort the transaction: nothing is inserted.
    const rows = await this.x.returning(this.x.db.insert(t).values(factorRow(factor, now)).onConflictDoNothing().returning({ id: t.id }));
    return rows.length > 0;
  }

  async deleteFactor(id: string, userId: number): Promise<boolean> {
    const { mfaFactors: t } = this.x.tables;
    return (await this.x.run(this.x.db.delete(t).where(and(eq(t.id, id), eq(t.userId, userId))))) > 0;
  }

  deleteAllForUser(userId: number): Promise<number> {
    return this.x.transaction(async (tx) => {
      const { mfaFactors: f, recoveryCodes: r, authChallenges: c } = tx.tables;
      const active = await tx.get(tx.db.select({ n: count() }).from(f).where(and(eq(f.userId, userId), isNotNull(f.activatedAt))));
      await tx.run(tx.db.delete(r).where(eq(r.userId, userId)));
      await tx.run(tx.db.delete(c).where(eq(c.userId, userId)));
      await tx.run(tx.db.delete(f).where(eq(f.userId, userId)));
      return Number(active?.n ?? 0);
    });
  }

  replaceRecoveryCodes(userId: number, hashes: string[], now: Date): Promise<void> {
    return this.x.transaction(async (tx) => {
      const { recoveryCodes: r } = tx.tables;
      await tx.run(tx.db.delete(r).where(eq(r.userId, userId)));
      if (hashes.length > 0) await tx.run(tx.db.insert(r).values(hashes.map((hash) => ({ hash, userId, createdAt: now }))));
    });
  }

  async deleteRecoveryCodes(userId: number): Promise<void> {
    const { recoveryCodes: r } = this.x.tables;
    await this.x.run(this.x.db.delete(r).where(eq(r.userId, userId)));
  }

  async useRecoveryCode(userId: number, hash: string, now: Date): Promise<boolean> {
    const { recoveryCodes: r } = this.x.tables;
    return (await this.x.run(this.x.db.update(r).set({ usedAt: now }).where(and(eq(r.hash, hash), eq(r.userId, userId), isNull(r.usedAt))))) > 0;
  }

  async countRecoveryCodes(userId: number): Promise<number> {
    const { recoveryCodes: r } = this.x.tables;
    const row = await this.x.get(this.x.db.select({ n: count() }).from(r).where(and(eq(r.userId, userId), isNull(r.usedAt))));
    return Number(row?.n ?? 0);
  }

  async recordTotpStep(factorId: string, step: number, now: Date): Promise<boolean> {
    return (await this.laterStep.run({ factorId, step, now })) > 0;
  }

  async touchFactor(factorId: string, now: Date): Promise<void> {
    const { mfaFactors: t } = this.x.tables;
    await this.x.run(this.x.db.update(t).set({ lastUsedAt: now }).where(eq(t.id, factorId)));
  }

  async advanceCounter(factorId: string, counter: number, now: Date): Promise<boolean> {
    const { mfaFactors: t } = this.x.tables;
    // Forward only; an authenticator without a counter (always 0) stays at 0.
    const moved = counter === 0 ? eq(t.counter, 0) : lt(t.counter, counter);
    return (await this.x.run(this.x.db.update(t).set({ counter, lastUsedAt: now }).where(and(eq(t.id, factorId), moved)))) > 0;
  }

  async createChallenge(challenge: AuthChallenge): Promise<void> {
    await this.x.run(this.x.db.insert(this.x.tables.authChallenges).values(challenge));
  }

  async findChallenge(hash: string, kind: AuthChallenge['kind'], now: Date): Promise<AuthChallenge | undefined> {
    const row = await this.liveChallenge.get({ hash, kind, now });
    return row ? toChallenge(row) : undefined;
  }

  async consumeChallenge(hash: string, kind: AuthChallenge['kind'], now: Date): Promise<AuthChallenge | undefined> {
    const [row] = await this.spendChallenge.returning({ hash, kind, now });
    return row ? toChallenge(row) : undefined;
  }

  async countFailure(hash: string, max: number, now: Date): Promise<number | undefined> {
    const { authChallenges: c } = this.x.tables;
    // One statement: the count and, at the limit, the token's death, for concurrent guesses too.
    const [row] = await this.x.returning(
      this.x.db
        .update(c)
        .set({ attempts: sql`${c.attempts} + 1`, usedAt: sql`CASE WHEN ${c.attempts} + 1 >= ${max} THEN ${c.createdAt} ELSE NULL END` })
        .where(this.live(hash, 'mfa', now))
        .returning({ attempts: c.attempts }),
    );
    return row?.attempts;
  }

  prune(before: Date): Promise<number> {
    const { authChallenges: c } = this.x.tables;
    return pruneInBatches(this.x, c, c.hash, c.expiresAt, before);
  }

  private live(hash: string, kind: AuthChallenge['kind'], now: Date) {
    const { authChallenges: c } = this.x.tables;
    return and(eq(c.hash, hash), eq(c.kind, kind), isNull(c.usedAt), gt(c.expiresAt, now));
  }
}
