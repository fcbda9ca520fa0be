import { and, eq, or, sql } from 'drizzle-orm';
import type { User } from '../../../domain/types.js';
import { toUser } from '../mappers.js';
import { DuplicateError, type NewUser, type UserStore } from '../../../services/ports.js';
import { users } from '../schema/pg.js';
import { uniqueViolation, type PgDb } from './connection.js';

export class PgUserStore implements UserStore {
  /** On every refresh: built once, run as a named statement (planned once per connection). */
  private readonly byId;

  constructor(private readonly db: PgDb) {
    this.byId = db.select().from(users).where(eq(users.id, sql.placeholder('id'))).prepare('gatehouse_user_by_id');
  }

  async create(user: NewUser): Promise<User> {
    try {
      const [row] = await this.db
        .insert(users)
        .values({ ...user, updatedAt: user.createdAt })
        .returning();
      return toUser(row!);
    } catch (error) {
      const constraint = uniqueViolation(error);
      if (constraint?.includes('email_key')) throw new DuplicateError('email');
      if (constraint?.includes('username_key')) throw new DuplicateError('username');
      throw error;
    }
  }

  async findById(id: number): Promise<User | undefined> {
    const [row] = await this.byId.execute({ id });
    return row ? toUser(row) : undefined;
  }

  async findByLogin(key: string): Promise<User | undefined> {
    const [row] = await this.db
      .select()
      .from(users)
      .where(or(eq(users.usernameKey, key), eq(users.emailKey, key)))
      .limit(1);
    return row ? toUser(row) : undefined;
  }

  async findByLegacyUsername(username: string): Promise<User | undefined> {
    const [row] = await this.db.select().from(users).where(eq(users.legacyUsername, username));
    return row ? toUser(row) : undefined;
  }

  async markEmailVerified(id: number, emailKey: string): Promise<boolean> {
    const rows = await this.db
      .update(users)
      .set({ emailVerified: true, updatedAt: new Date() })
      .where(and(eq(users.id, id), eq(users.emailKey, emailKey)))
      .returning({ id: users.id });
    return rows.length > 0;
  }

  async delete(id: number): Promise<boolean> {
    const rows = await this.db.delete(users).where(eq(users.id, id)).returning({ id: users.id });
    return rows.length > 0;
  }

  async updatePasswordHash(id: number, passwordHash: string): Promise<void> {
    await this.db.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, id));
  }
}
