import { eq } from 'drizzle-orm';
import type { RevokedTokenStore } from '../../../services/ports.js';
import type { Exec } from '../exec.js';
import { pruneInBatches } from './prune.js';
import { recordRevocations } from './revocations.js';

export class DrizzleRevokedTokenStore implements RevokedTokenStore {
  constructor(private readonly x: Exec) {}

  /** With its record for the revocation feed, in one transaction. */
  revoke(jti: string, expiresAt: Date): Promise<boolean> {
    return this.x.transaction(async (tx) => {
      const inserted = (await tx.run(tx.db.insert(tx.tables.revokedTokens).values({ jti, expiresAt }).onConflictDoNothing())) > 0;
      if (inserted) await recordRevocations(tx, new Date(), [{ tokenId: jti, expiresAt }]);
      return inserted;
    });
  }

  async isRevoked(jti: string): Promise<boolean> {
    const { revokedTokens: t } = this.x.tables;
    return (await this.x.get(this.x.db.select({ jti: t.jti }).from(t).where(eq(t.jti, jti)))) !== undefined;
  }

  prune(now: Date): Promise<number> {
    const { revokedTokens: t } = this.x.tables;
    return pruneInBatches(this.x, t, t.jti, t.expiresAt, now);
  }
}
