import { eq } from 'drizzle-orm';
import type { OAuthClient } from '../../../domain/types.js';
import { clientRow, toClient } from '../mappers.js';
import { DuplicateError, type ClientStore } from '../../../services/ports.js';
import { oauthClients } from '../schema/pg.js';
import { uniqueViolation, type PgDb } from './connection.js';

export class PgClientStore implements ClientStore {
  constructor(private readonly db: PgDb) {}

  async create(client: OAuthClient): Promise<void> {
    try {
      await this.db.insert(oauthClients).values(clientRow(client));
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
