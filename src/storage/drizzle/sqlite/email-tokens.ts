import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import type { EmailTokenPurpose, EmailTokenStore } from '../../../services/ports.js';
import { emailTokens } from '../schema/sqlite.js';
import type { SqliteDb } from './connection.js';

export class SqliteEmailTokenStore implements EmailTokenStore {
  constructor(private readonly db: SqliteDb) {}

  async create(token: Parameters<EmailTokenStore['create']>[0]): Promise<void> {
    this.db.insert(emailTokens).values(token).run();
  }

  async consume(hash: string, purpose: EmailTokenPurpose, now: Date): Promise<{ userId: number; email: string } | undefined> {
    // One UPDATE ... RETURNING: of two concurrent uses, exactly one sees the row unused.
    return this.db
      .update(emailTokens)
      .set({ usedAt: now })
      .where(and(eq(emailTokens.hash, hash), eq(emailTokens.purpose, purpose), isNull(emailTokens.usedAt), gt(emailTokens.expiresAt, now)))
      .returning({ userId: emailTokens.userId, email: emailTokens.email })
      .get();
  }

  async invalidateAll(userId: number, purpose: EmailTokenPurpose, now: Date): Promise<void> {
    this.db
      .update(emailTokens)
      .set({ usedAt: now })
      .where(and(eq(emailTokens.userId, userId), eq(emailTokens.purpose, purpose), isNull(emailTokens.usedAt)))
      .run();
  }

  async prune(before: Date): Promise<number> {
    return this.db.delete(emailTokens).where(lt(emailTokens.expiresAt, before)).run().changes;
  }
}
