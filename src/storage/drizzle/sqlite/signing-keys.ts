import { and, eq, isNull } from 'drizzle-orm';
import type { SigningKeyRecord, SigningKeyStore } from '../../../services/ports.js';
import { signingKeyRow, toSigningKey } from '../mappers.js';
import { signingKeys } from '../schema/sqlite.js';
import type { SqliteConnection } from './connection.js';

export class SqliteSigningKeyStore implements SigningKeyStore {
  constructor(private readonly conn: SqliteConnection) {}

  async list(): Promise<SigningKeyRecord[]> {
    return this.conn.db.select().from(signingKeys).all().map(toSigningKey);
  }

  async ensureActive(key: SigningKeyRecord): Promise<SigningKeyRecord> {
    const db = this.conn.db;
    // The partial unique index (one unretired key per alg) settles a race between two
    // instances starting at once: the loser's insert is ignored and it reads the winner's.
    db.insert(signingKeys).values(signingKeyRow(key)).onConflictDoNothing().run();
    const active = db
      .select()
      .from(signingKeys)
      .where(and(eq(signingKeys.alg, key.alg), isNull(signingKeys.retiredAt)))
      .get();
    await this.conn.durable();
    return toSigningKey(active!);
  }

  async rotate(key: SigningKeyRecord, retiredExpiresAt: Date): Promise<void> {
    const db = this.conn.db;
    this.conn.raw
      .transaction(() => {
        db.update(signingKeys)
          .set({ retiredAt: key.createdAt, expiresAt: retiredExpiresAt })
          .where(and(eq(signingKeys.alg, key.alg), isNull(signingKeys.retiredAt)))
          .run();
        db.insert(signingKeys).values(signingKeyRow(key)).run();
      })
      .immediate();
    await this.conn.durable();
  }
}
