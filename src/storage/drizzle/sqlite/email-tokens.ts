import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import type { EmailTokenPurpose, EmailTokenStore } from '../../../services/ports.js';
import { emailTokens } from '../schema/sqlite.js';
import type { SqliteConnection } from './connection.js';

export class SqliteEmailTokenStore implements EmailTokenStore {
  constructor(private readonly conn: SqliteConnection) {}

  private get db() {
    return this.conn.db;
  }

  async create(token: Parameters<EmailTokenStore['create']>[0]): Promise<void> {
    this.db.insert(emailTokens).values(token).run();
    await this.conn.durable();
  }

  async consume(hash: string, purpose: EmailTokenPurpose, now: Date): Promise<{ userId: number; email: string } | undefined> {
    // One UPDATE ... RETURNING: of two concurrent uses, exactly one sees the row unused.
    const consumed = this.db
      .update(emailTokens)
      .set({ usedAt: now })
      .where(and(eq(emailTokens.hash, hash), eq(emailTokens.purpose, purpose), isNull(emailTokens.usedAt), gt(emailTokens.expiresAt, now)))
      .returning({ userId: emailTokens.userId, email: emailTokens.email })
      .get();
    await this.conn.durable();
    return consumed;
  }

  async invalidateAll(userId: number, purpose: EmailTokenPurpose, now: Date): Promise<void> {
    this.db
      .update(emailTokens)
      .set({ usedAt: now })
      .where(and(eq(emailTokens.userId, userId), eq(emailTokens.purpose, purpose), isNull(emailTokens.usedAt)))
      .run();
    await this.conn.durable();
  }

  async prune(before: Date): Promise<number> {
    const pruned = this.db.delete(emailTokens).where(lt(emailTokens.expiresAt, before)).run().changes;
    await this.conn.durable();
    return pruned;
  }
}
