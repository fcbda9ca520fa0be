import { and, eq, gt, isNull } from 'drizzle-orm';
import type { EmailTokenPurpose, EmailTokenStore } from '../../../services/ports.js';
import type { Exec } from '../exec.js';
import { pruneInBatches } from './prune.js';

export class DrizzleEmailTokenStore implements EmailTokenStore {
  constructor(private readonly x: Exec) {}

  async create(token: Parameters<EmailTokenStore['create']>[0]): Promise<void> {
    await this.x.run(this.x.db.insert(this.x.tables.emailTokens).values(token));
  }

  async consume(hash: string, purpose: EmailTokenPurpose, now: Date): Promise<{ userId: number; email: string } | undefined> {
    const { emailTokens: t } = this.x.tables;
    // One UPDATE ... RETURNING: of two concurrent uses, exactly one sees the row unused.
    const [consumed] = await this.x.returning(
      this.x.db
        .update(t)
        .set({ usedAt: now })
        .where(and(eq(t.hash, hash), eq(t.purpose, purpose), isNull(t.usedAt), gt(t.expiresAt, now)))
        .returning({ userId: t.userId, email: t.email }),
    );
    return consumed;
  }

  async invalidateAll(userId: number, purpose: EmailTokenPurpose, now: Date): Promise<void> {
    const { emailTokens: t } = this.x.tables;
    await this.x.run(this.x.db.update(t).set({ usedAt: now }).where(and(eq(t.userId, userId), eq(t.purpose, purpose), isNull(t.usedAt))));
  }

  prune(before: Date): Promise<number> {
    const { emailTokens: t } = this.x.tables;
    return pruneInBatches(this.x, t, t.hash, t.expiresAt, before);
  }
}
