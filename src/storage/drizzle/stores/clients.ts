import { eq, sql } from 'drizzle-orm';
import type { OAuthClient } from '../../../domain/types.js';
import { DuplicateError, type ClientStore } from '../../../services/ports.js';
import { UniqueViolation, type Exec } from '../exec.js';
import { clientRow, toClient } from '../mappers.js';

export class DrizzleClientStore implements ClientStore {
  // Every token request looks its client up (the public default client too): prepared
  // once, it builds no SQL (built each time, it was a quarter of a code exchange's CPU).
  private readonly byId;

  constructor(private readonly x: Exec) {
    const t = x.tables.oauthClients;
    this.byId = x.prepare('gatehouse_client_by_id', (db) => db.select().from(t).where(eq(t.id, sql.placeholder('id'))));
  }

  async create(client: OAuthClient): Promise<void> {
    try {
      await this.x.run(this.x.db.insert(this.x.tables.oauthClients).values(clientRow(client)));
    } catch (error) {
      if (error instanceof UniqueViolation) throw new DuplicateError('client');
      throw error;
    }
  }

  async find(id: string): Promise<OAuthClient | undefined> {
    const row = await this.byId.get({ id });
    return row ? toClient(row) : undefined;
  }

  async list(): Promise<OAuthClient[]> {
    return (await this.x.all(this.x.db.select().from(this.x.tables.oauthClients))).map(toClient);
  }

  async delete(id: string): Promise<boolean> {
    const { oauthClients: t } = this.x.tables;
    return (await this.x.run(this.x.db.delete(t).where(eq(t.id, id)))) > 0;
  }
}
