import { eq, or } from 'drizzle-orm';
import type { ImportReport, ImportStore, LegacyUser } from '../../../services/ports.js';
import { DryRun, ImportTally, clashWith, type Outcome } from '../import-tally.js';
import { revokedTokens, users } from '../schema/sqlite.js';
import type { SqliteConnection } from './connection.js';

export class SqliteImportStore implements ImportStore {
  constructor(private readonly conn: SqliteConnection) {}

  async importLegacy(input: Parameters<ImportStore['importLegacy']>[0]): Promise<ImportReport> {
    const db = this.conn.db;
    const run = this.conn.raw.transaction((): ImportReport => {
      // Users whose id is free go first, with it; the others take new ids afterwards,
      // so no imported user displaces another from its original id.
      const tally = new ImportTally();
      for (const user of input.users) tally.count(user, this.placeUser(user, input.now, true));
      for (const user of tally.deferred) tally.count(user, this.placeUser(user, input.now, false));
      for (const token of input.revokedTokens) {
        tally.report.revokedTokens += db.insert(revokedTokens).values(token).onConflictDoNothing().run().changes;
      }
      if (input.dryRun) throw new DryRun(tally.report);
      return tally.report;
    });
    let report: ImportReport;
    try {
      report = run.immediate();
    } catch (error) {
      if (error instanceof DryRun) return error.report;
      throw error;
    }
    await this.conn.durable();
    return report;
  }

  private placeUser(user: LegacyUser, now: Date, keepIdOnly: boolean): Outcome {
    const db = this.conn.db;
    const clash = db
      .select({ id: users.id, usernameKey: users.usernameKey, emailKey: users.emailKey })
      .from(users)
      .where(or(eq(users.usernameKey, user.usernameKey), eq(users.emailKey, user.emailKey)))
      .all();
    const refused = clashWith(user, clash);
    if (refused) return refused;
    const idFree = db.select({ id: users.id }).from(users).where(eq(users.id, user.id)).get() === undefined;
    if (!idFree && keepIdOnly) return 'id_taken';
    db.insert(users)
      .values({
        ...(idFree ? { id: user.id } : {}),
        username: user.username,
        legacyUsername: user.legacyUsername,
        usernameKey: user.usernameKey,
        email: user.email,
        emailKey: user.emailKey,
        passwordHash: user.passwordHash,
        createdAt: now,
        updatedAt: now,
      })
      .run();
    return { keptId: idFree };
  }
}
