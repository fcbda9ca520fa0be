import { and, eq, isNull } from 'drizzle-orm';
import type { SigningKeyRecord, SigningKeyStore } from '../../../services/ports.js';
import { signingKeyRow, toSigningKey } from '../mappers.js';
import { signingKeys } from '../schema/pg.js';
import type { PgDb } from './connection.js';

export class PgSigningKeyStore implements SigningKeyStore {
  constructor(private readonly db: PgDb) {}

  async list(): Promise<SigningKeyRecord[]> {
    return (await this.db.select().from(signingKeys)).map(toSigningKey);
  }

  async ensureActive(key: SigningKeyRecord): Promise<SigningKeyRecord> {
    // The partial unique index settles two instances starting at once.
    await this.db.insert(signingKeys).values(signingKeyRow(key)).onConflictDoNothing();
    const [active] = await this.db
      .select()
      .from(signingKeys)
      .where(and(eq(signingKeys.alg, key.alg), isNull(signingKeys.retiredAt)));
    return toSigningKey(active!);
  }

  async rotate(key: SigningKeyRecord, retiredExpiresAt: Date): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx
        .update(signingKeys)
        .set({ retiredAt: key.createdAt, expiresAt: retiredExpiresAt })
        .where(and(eq(signingKeys.alg, key.alg), isNull(signingKeys.retiredAt)));
      await tx.insert(signingKeys).values(signingKeyRow(key));
    });
  }
}
