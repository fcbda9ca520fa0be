import { eq } from 'drizzle-orm';
import type { RevokedTokenStore } from '../../../services/ports.js';
import type { Exec } from '../exec.js';
import { pruneInBatches } from './prune.js';

export class DrizzleRevokedTokenStore implements RevokedTokenStore {
  constructor(private readonly x: Exec) {}

  async revoke(jti: string, expiresAt: Date): Promise<boolean> {
    return (await this.x.run(this.x.db.insert(this.x.tables.revokedTokens).values({ jti, expiresAt }).onConflictDoNothing())) > 0;
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
