import { eq } from 'drizzle-orm';
import type { GrantType, OAuthClient } from '../../../domain/types.js';
import { DuplicateError, type ClientStore } from '../../../services/ports.js';
import { oauthClients } from '../schema/pg.js';
import { uniqueViolation, type PgDb } from './connection.js';

type Row = typeof oauthClients.$inferSelect;

const toClient = (row: Row): OAuthClient => ({
  id: row.id,
  name: row.name,
  secretHash: row.secretHash,
  grantTypes: JSON.parse(row.grantTypes) as GrantType[],
  audience: row.audience,
  createdAt: row.createdAt,
});

export class PgClientStore implements ClientStore {
  constructor(private readonly db: PgDb) {}

  async create(client: OAuthClient): Promise<void> {
    try {
      await this.db.insert(oauthClients).values({ ...client, grantTypes: JSON.stringify(client.grantTypes) });
    } catch (error) {
      if (uniqueViolation(error)) throw new DuplicateError('client');
      throw error;
    }
  }

  async find(id: string): Promise<OAuthClient | undefined> {
    const [row] = await this.db.select().from(oauthClients).where(eq(oauthClients.id, id));
    return row ? toClient(row) : undefined;
  }

  async list(): Promise<OAuthClient[]> {
    return (await this.db.select().from(oauthClients)).map(toClient);
  }

  async delete(id: string): Promise<boolean> {
    const rows = await this.db.delete(oauthClients).where(eq(oauthClients.id, id)).returning({ id: oauthClients.id });
    return rows.length > 0;
  }
}
