import { eq } from 'drizzle-orm';
import type { OAuthClient } from '../../../domain/types.js';
import { clientRow, toClient } from '../mappers.js';
import { DuplicateError, type ClientStore } from '../../../services/ports.js';
import { oauthClients } from '../schema/sqlite.js';
import { uniqueViolation, type SqliteConnection } from './connection.js';

export class SqliteClientStore implements ClientStore {
  constructor(private readonly conn: SqliteConnection) {}

  private get db() {
    return this.conn.db;
  }

  async create(client: OAuthClient): Promise<void> {
    try {
      this.db.insert(oauthClients).values(clientRow(client)).run();
    } catch (error) {
      if (uniqueViolation(error)) throw new DuplicateError('client');
      throw error;
    }
    await this.conn.durable();
  }

  async find(id: string): Promise<OAuthClient | undefined> {
    const row = this.db.select().from(oauthClients).where(eq(oauthClients.id, id)).get();
    return row ? toClient(row) : undefined;
  }

  async list(): Promise<OAuthClient[]> {
    return this.db.select().from(oauthClients).all().map(toClient);
  }

  async delete(id: string): Promise<boolean> {
    const deleted = this.db.delete(oauthClients).where(eq(oauthClients.id, id)).run().changes > 0;
    await this.conn.durable();
    return deleted;
  }
}
