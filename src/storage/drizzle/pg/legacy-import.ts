import { eq, or, sql } from 'drizzle-orm';
import type { ImportReport, ImportStore, LegacyUser } from '../../../services/ports.js';
import { DryRun, ImportTally, clashWith, type Outcome } from '../import-tally.js';
import { revokedTokens, users } from '../schema/pg.js';
import type { PgDb } from './connection.js';

type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0];

export class PgImportStore implements ImportStore {
  constructor(private readonly db: PgDb) {}

  async importLegacy(input: Parameters<ImportStore['importLegacy']>[0]): Promise<ImportReport> {
    try {
      return await this.db.transaction(async (tx) => {
        // One importer at a time; concurrent sign-ups wait on the users table briefly.
        await tx.execute(sql`LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`);
        // Users whose id is free go first, with it; the others take new ids afterwards,
        // so no imported user displaces another from its original id.
        const tally = new ImportTally();
        for (const user of input.users) tally.count(user, await this.placeUser(tx, user, input.now, true));
        // Explicit ids do not advance the identity sequence: move it past them before new ids are drawn.
        await tx.execute(sql`SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST((SELECT max(id) FROM users), 1))`);
        for (const user of tally.deferred) tally.count(user, await this.placeUser(tx, user, input.now, false));
        for (const token of input.revokedTokens) {
          const rows = await tx.insert(revokedTokens).values(token).onConflictDoNothing().returning({ jti: revokedTokens.jti });
          tally.report.revokedTokens += rows.length;
        }
        if (input.dryRun) throw new DryRun(tally.report);
        return tally.report;
      });
    } catch (error) {
      if (error instanceof DryRun) return error.report;
      throw error;
    }
  }

  private async placeUser(tx: Tx, user: LegacyUser, now: Date, keepIdOnly: boolean): Promise<Outcome> {
    const clash = await tx
      .select({ id: users.id, usernameKey: users.usernameKey, emailKey: users.emailKey })
      .from(users)
      .where(or(eq(users.usernameKey, user.usernameKey), eq(users.emailKey, user.emailKey)));
    const refused = clashWith(user, clash);
    if (refused) return refused;
    const [taken] = await tx.select({ id: users.id }).from(users).where(eq(users.id, user.id));
    const idFree = taken === undefined;
    if (!idFree && keepIdOnly) return 'id_taken';
    await tx.insert(users).values({
      ...(idFree ? { id: user.id } : {}),
      username: user.username,
      legacyUsername: user.legacyUsername,
      usernameKey: user.usernameKey,
      email: user.email,
      emailKey: user.emailKey,
      passwordHash: user.passwordHash,
      createdAt: now,
      updatedAt: now,
    });
    return { keptId: idFree };
  }
}
