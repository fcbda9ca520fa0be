import type { JWK } from 'jose';
import { and, eq, isNull } from 'drizzle-orm';
import type { SigningKeyRecord, SigningKeyStore } from '../../../services/ports.js';
import type { Exec } from '../exec.js';
import { signingKeyRow, toSigningKey } from '../mappers.js';

export class DrizzleSigningKeyStore implements SigningKeyStore {
  constructor(private readonly x: Exec) {}

  async list(): Promise<SigningKeyRecord[]> {
    return (await this.x.all(this.x.db.select().from(this.x.tables.signingKeys))).map(toSigningKey);
  }

  async ensureActive(key: SigningKeyRecord): Promise<SigningKeyRecord> {
    const { signingKeys: t } = this.x.tables;
    // The partial unique index (one unretired key per alg) settles a race between two
    // instances starting at once: the loser's insert is ignored and it reads the winner's.
    await this.x.run(this.x.db.insert(t).values(signingKeyRow(key)).onConflictDoNothing());
    const active = await this.x.get(this.x.db.select().from(t).where(and(eq(t.alg, key.alg), isNull(t.retiredAt))));
    return toSigningKey(active!);
  }

  async replacePrivateJwk(kid: string, expected: JWK, next: JWK): Promise<boolean> {
    const { signingKeys: t } = this.x.tables;
    const query = this.x.db
      .update(t)
      .set({ privateJwk: JSON.stringify(next) })
      .where(and(eq(t.kid, kid), eq(t.privateJwk, JSON.stringify(expected))));
    return (await this.x.run(query)) > 0;
  }

  rotate(key: SigningKeyRecord, retiredExpiresAt: Date): Promise<void> {
    return this.x.transaction(async (tx) => {
      const { signingKeys: t } = tx.tables;
      await tx.run(tx.db.update(t).set({ retiredAt: key.createdAt, expiresAt: retiredExpiresAt }).where(and(eq(t.alg, key.alg), isNull(t.retiredAt))));
      await tx.run(tx.db.insert(t).values(signingKeyRow(key)));
    });
  }
}
