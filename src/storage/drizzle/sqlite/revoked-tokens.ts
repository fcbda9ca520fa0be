import { eq, lt } from 'drizzle-orm';
import type { RevokedTokenStore } from '../../../services/ports.js';
import { revokedTokens } from '../schema/sqlite.js';
import type { SqliteDb } from './connection.js';

export class SqliteRevokedTokenStore implements RevokedTokenStore {
  constructor(private readonly db: SqliteDb) {}

  async revoke(jti: string, expiresAt: Date): Promise<boolean> {
    return this.db.insert(revokedTokens).values({ jti, expiresAt }).onConflictDoNothing().run().changes > 0;
  }

  async isRevoked(jti: string): Promise<boolean> {
    return this.db.select({ jti: revokedTokens.jti }).from(revokedTokens).where(eq(revokedTokens.jti, jti)).get() !== undefined;
  }

  async prune(now: Date): Promise<number> {
    return this.db.delete(revokedTokens).where(lt(revokedTokens.expiresAt, now)).run().changes;
  }
}
