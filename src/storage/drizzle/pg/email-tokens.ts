import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import type { EmailTokenPurpose, EmailTokenStore } from '../../../services/ports.js';
import { emailTokens } from '../schema/pg.js';
import type { PgDb } from './connection.js';

export class PgEmailTokenStore implements EmailTokenStore {
  constructor(private readonly db: PgDb) {}

  async create(token: Parameters<EmailTokenStore['create']>[0]): Promise<void> {
    await this.db.insert(emailTokens).values(token);
  }

  async consume(hash: string, purpose: EmailTokenPurpose, now: Date): Promise<{ userId: number; email: string } | undefined> {
    // One UPDATE ... RETURNING: of two concurrent uses, exactly one sees the row unused.
    const [row] = await this.db
      .update(emailTokens)
      .set({ usedAt: now })
      .where(and(eq(emailTokens.hash, hash), eq(emailTokens.purpose, purpose), isNull(emailTokens.usedAt), gt(emailTokens.expiresAt, now)))
      .returning({ userId: emailTokens.userId, email: emailTokens.email });
    return row;
  }

  async invalidateAll(userId: number, purpose: EmailTokenPurpose, now: Date): Promise<void> {
    await this.db
      .update(emailTokens)
      .set({ usedAt: now })
      .where(and(eq(emailTokens.userId, userId), eq(emailTokens.purpose, purpose), isNull(emailTokens.usedAt)));
  }

  async prune(before: Date): Promise<number> {
    const rows = await this.db.delete(emailTokens).where(lt(emailTokens.expiresAt, before)).returning({ hash: emailTokens.hash });
    return rows.length;
  }
}
