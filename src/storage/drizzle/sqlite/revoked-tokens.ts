import { lt } from 'drizzle-orm';
import type { RevokedTokenStore } from '../../../services/ports.js';
import { revokedTokens } from '../schema/sqlite.js';
import type { SqliteDb } from './connection.js';

export class SqliteRevokedTokenStore implements RevokedTokenStore {
  constructor(private readonly db: SqliteDb) {}

  async revoke(jti: string, expiresAt: Date): Promise<void> {
    this.db.insert(revokedTokens).values({ jti, expiresAt }).onConflictDoNothing().run();
  }

  async prune(now: Date): Promise<number> {
    return this.db.delete(revokedTokens).where(lt(revokedTokens.expiresAt, now)).run().changes;
  }
}
