import { lt } from 'drizzle-orm';
import type { RevokedTokenStore } from '../../../services/ports.js';
import { revokedTokens } from '../schema/pg.js';
import type { PgDb } from './connection.js';

export class PgRevokedTokenStore implements RevokedTokenStore {
  constructor(private readonly db: PgDb) {}

  async revoke(jti: string, expiresAt: Date): Promise<void> {
    await this.db.insert(revokedTokens).values({ jti, expiresAt }).onConflictDoNothing();
  }

  async prune(now: Date): Promise<number> {
    const rows = await this.db.delete(revokedTokens).where(lt(revokedTokens.expiresAt, now)).returning({ jti: revokedTokens.jti });
    return rows.length;
  }
}
