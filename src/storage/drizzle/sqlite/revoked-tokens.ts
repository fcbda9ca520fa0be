import { eq, lt } from 'drizzle-orm';
import type { RevokedTokenStore } from '../../../services/ports.js';
import { revokedTokens } from '../schema/sqlite.js';
import type { SqliteConnection } from './connection.js';

export class SqliteRevokedTokenStore implements RevokedTokenStore {
  constructor(private readonly conn: SqliteConnection) {}

  private get db() {
    return this.conn.db;
  }

  async revoke(jti: string, expiresAt: Date): Promise<boolean> {
    const revoked = this.db.insert(revokedTokens).values({ jti, expiresAt }).onConflictDoNothing().run().changes > 0;
    await this.conn.durable();
    return revoked;
  }

  async isRevoked(jti: string): Promise<boolean> {
    return this.db.select({ jti: revokedTokens.jti }).from(revokedTokens).where(eq(revokedTokens.jti, jti)).get() !== undefined;
  }

  async prune(now: Date): Promise<number> {
    const pruned = this.db.delete(revokedTokens).where(lt(revokedTokens.expiresAt, now)).run().changes;
    await this.conn.durable();
    return pruned;
  }
}
