import { and, eq, isNull } from 'drizzle-orm';
import type { SigningKeyRecord, SigningKeyStore } from '../../../services/ports.js';
import { signingKeys } from '../schema/sqlite.js';
import type { SqliteConnection } from './connection.js';

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

export class SqliteSigningKeyStore implements SigningKeyStore {
  constructor(private readonly conn: SqliteConnection) {}

  async list(): Promise<SigningKeyRecord[]> {
    return this.conn.db.select().from(signingKeys).all().map(toRecord);
  }

  async ensureActive(key: SigningKeyRecord): Promise<SigningKeyRecord> {
    const db = this.conn.db;
    // The partial unique index (one unretired key per alg) settles a race between two
    // instances starting at once: the loser's insert is ignored and it reads the winner's.
    db.insert(signingKeys).values(toRow(key)).onConflictDoNothing().run();
    const active = db
      .select()
      .from(signingKeys)
      .where(and(eq(signingKeys.alg, key.alg), isNull(signingKeys.retiredAt)))
      .get();
    return toRecord(active!);
  }

  async rotate(key: SigningKeyRecord, retiredExpiresAt: Date): Promise<void> {
    const db = this.conn.db;
    this.conn.raw
      .transaction(() => {
        db.update(signingKeys)
          .set({ retiredAt: key.createdAt, expiresAt: retiredExpiresAt })
          .where(and(eq(signingKeys.alg, key.alg), isNull(signingKeys.retiredAt)))
          .run();
        db.insert(signingKeys).values(toRow(key)).run();
      })
      .immediate();
  }
}
