import { eq } from 'drizzle-orm';
import type { OAuthClient } from '../../../domain/types.js';
import { DuplicateError, type ClientStore } from '../../../services/ports.js';
import { UniqueViolation, type Exec } from '../exec.js';
import { clientRow, toClient } from '../mappers.js';

export class DrizzleClientStore implements ClientStore {
  constructor(private readonly x: Exec) {}

  async create(client: OAuthClient): Promise<void> {
    try {
      await this.x.run(this.x.db.insert(this.x.tables.oauthClients).values(clientRow(client)));
    } catch (error) {
      if (error instanceof UniqueViolation) throw new DuplicateError('client');
      throw error;
    }
  }

  async find(id: string): Promise<OAuthClient | undefined> {
    const { oauthClients: t } = this.x.tables;
    const row = await this.x.get(this.x.db.select().from(t).where(eq(t.id, id)));
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
