import { and, eq, isNotNull, isNull, like, or, sql } from 'drizzle-orm';
import type { User } from '../../../domain/types.js';
import { DuplicateError, type NewUser, type UserStore } from '../../../services/ports.js';
import { UniqueViolation, type Exec } from '../exec.js';
import { toUser } from '../mappers.js';
import { recordRevocations, sessionRevocations } from './revocations.js';

const ph = sql.placeholder;

export class DrizzleUserStore implements UserStore {
  // Prepared once (named on PostgreSQL): the login and refresh paths build no SQL.
  private readonly byId;
  private readonly byLogin;
  private readonly insert;

  constructor(
    private readonly x: Exec,
    /** See DEFAULT_SESSION_RECORD_LIFETIME_MS. */
    private readonly recordLifetimeMs: number,
  ) {
    const { users } = x.tables;
    this.byId = x.prepare('gatehouse_user_by_id', (db) => db.select().from(users).where(eq(users.id, ph('id'))));
    this.byLogin = x.prepare('gatehouse_user_by_login', (db) =>
      db
        .select()
        .from(users)
        .where(or(eq(users.usernameKey, ph('key')), eq(users.emailKey, ph('key'))))
        .limit(1),
    );
    this.insert = x.prepare('gatehouse_user_insert', (db) =>
      db
        .insert(users)
        .values({
          username: ph('username'),
          usernameKey: ph('usernameKey'),
          email: ph('email'),
          emailKey: ph('emailKey'),
          passwordHash: ph('passwordHash'),
          createdAt: ph('createdAt'),
          updatedAt: ph('createdAt'),
        })
        .returning(),
    );
  }

  async create(user: NewUser): Promise<User> {
    try {
      const [row] = await this.insert.returning({ ...user });
      return toUser(row!);
    } catch (error) {
      if (error instanceof UniqueViolation) {
        if (error.constraint.includes('email_key')) throw new DuplicateError('email');
        if (error.constraint.includes('username_key')) throw new DuplicateError('username');
      }
      throw error;
    }
  }

  async findById(id: number): Promise<User | undefined> {
    const row = await this.byId.get({ id });
    return row ? toUser(row) : undefined;
  }

  async findByLogin(key: string): Promise<User | undefined> {
    const row = await this.byLogin.get({ key });
    return row ? toUser(row) : undefined;
  }

  async findByLegacyUsername(username: string): Promise<(User & { legacyTokensVoidBefore: Date | null }) | undefined> {
    const { users } = this.x.tables;
    const row = await this.x.get(this.x.db.select().from(users).where(eq(users.legacyUsername, username)).limit(1));
    return row ? { ...toUser(row), legacyTokensVoidBefore: row.legacyTokensVoidBefore } : undefined;
  }

  async voidLegacyTokens(id: number, at: Date): Promise<void> {
    const { users } = this.x.tables;
    await this.x.run(this.x.db.update(users).set({ legacyTokensVoidBefore: at }).where(and(eq(users.id, id), isNotNull(users.legacyUsername))));
  }

  async anyLegacyHash(): Promise<string | undefined> {
    const { users } = this.x.tables;
    const row = await this.x.get(
      this.x.db
        .select({ hash: users.passwordHash })
        .from(users)
        .where(and(isNotNull(users.legacyUsername), like(users.passwordHash, '$2%')))
        .limit(1),
    );
    return row?.hash;
  }

  async markEmailVerified(id: number, emailKey: string): Promise<boolean> {
    const { users } = this.x.tables;
    const query = this.x.db.update(users).set({ emailVerified: true, updatedAt: new Date() }).where(and(eq(users.id, id), eq(users.emailKey, emailKey)));
    return (await this.x.run(query)) > 0;
  }

  /**
   * The user's sessions go with the row (foreign-key cascade). The live ones are revoked
   * first, in the same transaction, so the revocation feed hears of them (and their rows
   * are locked before the feed's record is written; see stores/revocations.ts).
   */
  delete(id: number): Promise<boolean> {
    return this.x.transaction(async (tx) => {
      const { users, sessions: s } = tx.tables;
      const now = new Date();
      const ended = await tx.returning(
        tx.db.update(s).set({ revokedAt: now, revokeReason: 'account_deleted' }).where(and(eq(s.userId, id), isNull(s.revokedAt))).returning({ id: s.id }),
      );
      await recordRevocations(tx, now, sessionRevocations(ended.map((r) => r.id), now, this.recordLifetimeMs));
      return (await tx.run(tx.db.delete(users).where(eq(users.id, id)))) > 0;
    });
  }

  async updatePasswordHash(id: number, passwordHash: string): Promise<void> {
    const { users } = this.x.tables;
    await this.x.run(this.x.db.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, id)));
  }
}
