import { and, eq, isNull } from 'drizzle-orm';
import type { SigningKeyRecord, SigningKeyStore } from '../../../services/ports.js';
import { signingKeys } from '../schema/pg.js';
import type { PgDb } from './connection.js';

type Row = typeof signingKeys.$inferSelect;

const toRecord = (row: Row): SigningKeyRecord => ({
  kid: row.kid,
  alg: row.alg,
  publicJwk: JSON.parse(row.publicJwk),
  privateJwk: JSON.parse(row.privateJwk),
  createdAt: row.createdAt,
  retiredAt: row.retiredAt,
  expiresAt: row.expiresAt,
});

const toRow = (key: SigningKeyRecord): Row => ({
  kid: key.kid,
  alg: key.alg,
  publicJwk: JSON.stringify(key.publicJwk),
  privateJwk: JSON.stringify(key.privateJwk),
  createdAt: key.createdAt,
  retiredAt: key.retiredAt,
  expiresAt: key.expiresAt,
});

export class PgSigningKeyStore implements SigningKeyStore {
  constructor(private readonly db: PgDb) {}

  async list(): Promise<SigningKeyRecord[]> {
    return (await this.db.select().from(signingKeys)).map(toRecord);
  }

  async ensureActive(key: SigningKeyRecord): Promise<SigningKeyRecord> {
    // The partial unique index settles two instances starting at once.
    await this.db.insert(signingKeys).values(toRow(key)).onConflictDoNothing();
    const [active] = await this.db
      .select()
      .from(signingKeys)
      .where(and(eq(signingKeys.alg, key.alg), isNull(signingKeys.retiredAt)));
    return toRecord(active!);
  }

  async rotate(key: SigningKeyRecord, retiredExpiresAt: Date): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx
        .update(signingKeys)
        .set({ retiredAt: key.createdAt, expiresAt: retiredExpiresAt })
        .where(and(eq(signingKeys.alg, key.alg), isNull(signingKeys.retiredAt)));
      await tx.insert(signingKeys).values(toRow(key));
    });
  }
}
