import { and, eq, or, sql } from 'drizzle-orm';
import type { User } from '../../../domain/types.js';
import { toUser } from '../mappers.js';
import { DuplicateError, type NewUser, type UserStore } from '../../../services/ports.js';
import { users } from '../schema/sqlite.js';
import { uniqueViolation, type SqliteConnection } from './connection.js';

export class SqliteUserStore implements UserStore {
  private readonly byId;
  private readonly byLogin;
  private readonly insert;

  constructor(private readonly conn: SqliteConnection) {
    const db = conn.db;
    // Prepared once: the hot paths run without rebuilding SQL.
    this.byId = db.select().from(users).where(eq(users.id, sql.placeholder('id'))).prepare();
    this.byLogin = db
      .select()
      .from(users)
      .where(or(eq(users.usernameKey, sql.placeholder('key')), eq(users.emailKey, sql.placeholder('key'))))
      .limit(1)
      .prepare();
    this.insert = db
      .insert(users)
      .values({
        username: sql.placeholder('username'),
        usernameKey: sql.placeholder('usernameKey'),
        email: sql.placeholder('email'),
        emailKey: sql.placeholder('emailKey'),
        passwordHash: sql.placeholder('passwordHash'),
        createdAt: sql.placeholder('createdAt'),
        updatedAt: sql.placeholder('createdAt'),
      })
      .returning()
      .prepare();
  }

  private get db() {
    return this.conn.db;
  }

  async create(user: NewUser): Promise<User> {
    let row;
    try {
      row = this.insert.get({
        username: user.username,
        usernameKey: user.usernameKey,
        email: user.email,
        emailKey: user.emailKey,
        passwordHash: user.passwordHash,
        createdAt: user.createdAt,
      });
    } catch (error) {
      const message = uniqueViolation(error);
      if (message?.includes('email_key')) throw new DuplicateError('email');
      if (message?.includes('username_key')) throw new DuplicateError('username');
      throw error;
    }
    await this.conn.durable();
    return toUser(row!);
  }

  async findById(id: number): Promise<User | undefined> {
    const row = this.byId.get({ id });
    return row ? toUser(row) : undefined;
  }

  async findByLogin(key: string): Promise<User | undefined> {
    const row = this.byLogin.get({ key });
    return row ? toUser(row) : undefined;
  }

  async findByLegacyUsername(username: string): Promise<User | undefined> {
    const row = this.db.select().from(users).where(eq(users.legacyUsername, username)).get();
    return row ? toUser(row) : undefined;
  }

  async markEmailVerified(id: number, emailKey: string): Promise<boolean> {
    const result = this.db
      .update(users)
      .set({ emailVerified: true, updatedAt: new Date() })
      .where(and(eq(users.id, id), eq(users.emailKey, emailKey)))
      .run();
    await this.conn.durable();
    return result.changes > 0;
  }

  async delete(id: number): Promise<boolean> {
    const deleted = this.db.delete(users).where(eq(users.id, id)).run().changes > 0;
    await this.conn.durable();
    return deleted;
  }

  async updatePasswordHash(id: number, passwordHash: string): Promise<void> {
    this.db.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, id)).run();
    await this.conn.durable();
  }
}
