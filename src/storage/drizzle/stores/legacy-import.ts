/**
 * The import of the original service's users and revoked tokens: all in one transaction
 * (rolled back for a dry run), so nothing is ever half-written.
 *
 * The source comes batch by batch and every statement is prepared once (on PostgreSQL,
 * once per import's transaction): memory holds one batch, whatever the source's size, and
 * a user costs one indexed read and one insert, with no SQL built per user.
 */
import { eq, or, sql } from 'drizzle-orm';
import type { ImportReport, ImportStore, LegacyRevokedToken, LegacyUser, LegacyUserSource } from '../../../services/ports.js';
import type { Exec, Prepared } from '../exec.js';

const ph = sql.placeholder;

/** Second-pass reads of the users whose original id was taken, this many ids at a time. */
const DEFERRED_BATCH = 500;

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
  /** Original ids of the users whose id was taken: placed after every user that keeps its id. */
  readonly deferred: number[] = [];

  count(user: LegacyUser, outcome: Outcome): void {
    if (outcome === 'present') this.report.alreadyPresent++;
    else if (outcome === 'id_taken') this.deferred.push(user.id);
    else if (typeof outcome === 'string') this.report.conflicts.push({ id: user.id, username: user.username, reason: outcome });
    else {
      this.report.imported++;
      if (outcome.keptId) this.report.keptIds++;
    }
  }
}

interface Neighbour {
  id: number;
  usernameKey: string;
  emailKey: string;
  legacyUsername: string | null;
}

/**
 * Why an imported user cannot go in as new, from the accounts sharing its keys (or
 * undefined). Only an account imported under the very same original username counts as
 * present: one that someone registered with the victim's username and email before the
 * import is a conflict to report, never the victim's account.
 */
function clashWith(user: LegacyUser, clash: Neighbour[]): Outcome | undefined {
  if (clash.some((c) => c.legacyUsername === user.legacyUsername)) return 'present';
  if (clash.some((c) => c.usernameKey === user.usernameKey)) return 'username belongs to another account';
  if (clash.length > 0) return 'email belongs to another account';
  return undefined;
}

/** An array of users as a source (one batch). */
function arraySource(users: LegacyUser[]): LegacyUserSource {
  return {
    batches: () => [users],
    byIds: (ids) => {
      const wanted = new Set(ids);
      return users.filter((u) => wanted.has(u.id));
    },
  };
}

/** The statements of one import, prepared on its transaction. */
function prepareImport(tx: Exec) {
  const { users, revokedTokens } = tx.tables;
  const values = {
    username: ph('username'),
    legacyUsername: ph('legacyUsername'),
    usernameKey: ph('usernameKey'),
    email: ph('email'),
    emailKey: ph('emailKey'),
    passwordHash: ph('passwordHash'),
    createdAt: ph('now'),
    updatedAt: ph('now'),
  };
  return {
    // The accounts sharing the user's keys, and the one holding its original id: one read.
    neighbours: tx.prepare('gatehouse_import_neighbours', (db) =>
      db
        .select({ id: users.id, usernameKey: users.usernameKey, emailKey: users.emailKey, legacyUsername: users.legacyUsername })
        .from(users)
        .where(or(eq(users.usernameKey, ph('usernameKey')), eq(users.emailKey, ph('emailKey')), eq(users.id, ph('id')))),
    ),
    insertWithId: tx.prepare('gatehouse_import_user_with_id', (db) => db.insert(users).values({ id: ph('id'), ...values })),
    insertNewId: tx.prepare('gatehouse_import_user_new_id', (db) => db.insert(users).values(values)),
    revokeToken: tx.prepare('gatehouse_import_revoked_token', (db) =>
      db
        .insert(revokedTokens)
        .values({ jti: ph('jti'), expiresAt: ph('expiresAt') })
        .onConflictDoNothing(),
    ),
  };
}

type ImportStatements = ReturnType<typeof prepareImport>;

export class DrizzleImportStore implements ImportStore {
  constructor(private readonly x: Exec) {}

  async importLegacy(input: Parameters<ImportStore['importLegacy']>[0]): Promise<ImportReport> {
    const source = Array.isArray(input.users) ? arraySource(input.users) : input.users;
    const tokens: Iterable<LegacyRevokedToken[]> = Array.isArray(input.revokedTokens) ? [input.revokedTokens] : input.revokedTokens.batches();
    try {
      return await this.x.transaction(async (tx) => {
        // PostgreSQL: one importer at a time; concurrent sign-ups wait on the users table
        // briefly. (A SQLite transaction holds the database's write lock already.)
        if (tx.dialect === 'pg') await tx.raw(sql`LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`);
        const s = prepareImport(tx);
        // Users whose id is free go first, with it; the others take new ids afterwards,
        // so no imported user displaces another from its original id.
        const tally = new ImportTally();
        for (const batch of source.batches()) {
          for (const user of batch) tally.count(user, await placeUser(s, user, input.now, true));
        }
        if (tx.dialect === 'pg') {
          // Explicit ids do not advance the identity sequence: move it past them before new ids are drawn.
          await tx.raw(sql`SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST((SELECT max(id) FROM users), 1))`);
        }
        for (let i = 0; i < tally.deferred.length; i += DEFERRED_BATCH) {
          for (const user of source.byIds(tally.deferred.slice(i, i + DEFERRED_BATCH))) tally.count(user, await placeUser(s, user, input.now, false));
        }
        for (const batch of tokens) {
          for (const token of batch) tally.report.revokedTokens += await s.revokeToken.run({ jti: token.jti, expiresAt: token.expiresAt });
        }
        if (input.dryRun) throw new DryRun(tally.report);
        return tally.report;
      });
    } catch (error) {
      if (error instanceof DryRun) return error.report;
      throw error;
    }
  }
}

async function placeUser(s: ImportStatements, user: LegacyUser, now: Date, keepIdOnly: boolean): Promise<Outcome> {
  const around = (await (s.neighbours as Prepared<Neighbour>).all({ id: user.id, usernameKey: user.usernameKey, emailKey: user.emailKey })) as Neighbour[];
  const refused = clashWith(
    user,
    around.filter((n) => n.usernameKey === user.usernameKey || n.emailKey === user.emailKey),
  );
  if (refused) return refused;
  const idFree = !around.some((n) => n.id === user.id);
  if (!idFree && keepIdOnly) return 'id_taken';
  const row = { username: user.username, legacyUsername: user.legacyUsername, usernameKey: user.usernameKey, email: user.email, emailKey: user.emailKey, passwordHash: user.passwordHash, now };
  await (idFree ? s.insertWithId.run({ id: user.id, ...row }) : s.insertNewId.run(row));
  return { keptId: idFree };
}
