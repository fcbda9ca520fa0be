/**
 * The import of the original service's users and revoked tokens: all in one transaction
 * (rolled back for a dry run), so nothing is ever half-written.
 */
import { eq, or, sql } from 'drizzle-orm';
import type { ImportReport, ImportStore, LegacyUser } from '../../../services/ports.js';
import type { Exec } from '../exec.js';

/** What happened to one user: left alone, skipped (why), deferred, or written. */
type Outcome = 'present' | 'id_taken' | string | { keptId: boolean };

/** Thrown inside the transaction to roll a dry run back while keeping its report. */
class DryRun extends Error {
  constructor(readonly report: ImportReport) {
    super('dry run');
  }
}

class ImportTally {
  readonly report: ImportReport = { imported: 0, keptIds: 0, alreadyPresent: 0, conflicts: [], revokedTokens: 0 };
  /** Users whose original id was taken: placed after every user that keeps its id. */
  readonly deferred: LegacyUser[] = [];

  count(user: LegacyUser, outcome: Outcome): void {
    if (outcome === 'present') this.report.alreadyPresent++;
    else if (outcome === 'id_taken') this.deferred.push(user);
    else if (typeof outcome === 'string') this.report.conflicts.push({ id: user.id, username: user.username, reason: outcome });
    else {
      this.report.imported++;
      if (outcome.keptId) this.report.keptIds++;
    }
  }
}

/**
 * Why an imported user cannot go in as new, from the accounts sharing its keys (or
 * undefined). Only an account imported under the very same original username counts as
 * present: one that someone registered with the victim's username and email before the
 * import is a conflict to report, never the victim's account.
 */
function clashWith(user: LegacyUser, clash: Array<{ usernameKey: string; emailKey: string; legacyUsername: string | null }>): Outcome | undefined {
  if (clash.some((c) => c.legacyUsername === user.legacyUsername)) return 'present';
  if (clash.some((c) => c.usernameKey === user.usernameKey)) return 'username belongs to another account';
  if (clash.length > 0) return 'email belongs to another account';
  return undefined;
}

export class DrizzleImportStore implements ImportStore {
  constructor(private readonly x: Exec) {}

  async importLegacy(input: Parameters<ImportStore['importLegacy']>[0]): Promise<ImportReport> {
    try {
      return await this.x.transaction(async (tx) => {
        const { revokedTokens } = tx.tables;
        // PostgreSQL: one importer at a time; concurrent sign-ups wait on the users table
        // briefly. (A SQLite transaction holds the database's write lock already.)
        if (tx.dialect === 'pg') await tx.raw(sql`LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`);
        // Users whose id is free go first, with it; the others take new ids afterwards,
        // so no imported user displaces another from its original id.
        const tally = new ImportTally();
        for (const user of input.users) tally.count(user, await this.placeUser(tx, user, input.now, true));
        if (tx.dialect === 'pg') {
          // Explicit ids do not advance the identity sequence: move it past them before new ids are drawn.
          await tx.raw(sql`SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST((SELECT max(id) FROM users), 1))`);
        }
        for (const user of tally.deferred) tally.count(user, await this.placeUser(tx, user, input.now, false));
        for (const token of input.revokedTokens) {
          tally.report.revokedTokens += await tx.run(tx.db.insert(revokedTokens).values(token).onConflictDoNothing());
        }
        if (input.dryRun) throw new DryRun(tally.report);
        return tally.report;
      });
    } catch (error) {
      if (error instanceof DryRun) return error.report;
      throw error;
    }
  }

  private async placeUser(tx: Exec, user: LegacyUser, now: Date, keepIdOnly: boolean): Promise<Outcome> {
    const { users } = tx.tables;
    const clash = await tx.all(
      tx.db
        .select({ id: users.id, usernameKey: users.usernameKey, emailKey: users.emailKey, legacyUsername: users.legacyUsername })
        .from(users)
        .where(or(eq(users.usernameKey, user.usernameKey), eq(users.emailKey, user.emailKey))),
    );
    const refused = clashWith(user, clash);
    if (refused) return refused;
    const idFree = (await tx.get(tx.db.select({ id: users.id }).from(users).where(eq(users.id, user.id)))) === undefined;
    if (!idFree && keepIdOnly) return 'id_taken';
    await tx.run(
      tx.db.insert(users).values({
        ...(idFree ? { id: user.id } : {}),
        username: user.username,
        legacyUsername: user.legacyUsername,
        usernameKey: user.usernameKey,
        email: user.email,
        emailKey: user.emailKey,
        passwordHash: user.passwordHash,
        createdAt: now,
        updatedAt: now,
      }),
    );
    return { keptId: idFree };
  }
}
