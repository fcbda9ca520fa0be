import { eq, lt } from 'drizzle-orm';
import type { RevokedTokenStore } from '../../../services/ports.js';
import { revokedTokens } from '../schema/pg.js';
import type { PgDb } from './connection.js';

export class PgRevokedTokenStore implements RevokedTokenStore {
  constructor(private readonly db: PgDb) {}

  async revoke(jti: string, expiresAt: Date): Promise<boolean> {
    const rows = await this.db.insert(revokedTokens).values({ jti, expiresAt }).onConflictDoNothing().returning({ jti: revokedTokens.jti });
    return rows.length > 0;
  }

  async isRevoked(jti: string): Promise<boolean> {
    const rows = await this.db.select({ jti: revokedTokens.jti }).from(revokedTokens).where(eq(revokedTokens.jti, jti));
    return rows.length > 0;
  }

  async prune(now: Date): Promise<number> {
    const rows = await this.db.delete(revokedTokens).where(lt(revokedTokens.expiresAt, now)).returning({ jti: revokedTokens.jti });
    return rows.length;
  }
}
