/**
 * Book-keeping shared by both dialects' legacy imports: how each user's placement is
 * counted, the two-pass order (free ids first), and the dry run that rolls back.
 */
import type { ImportReport, LegacyUser } from '../../services/ports.js';

/** What happened to one user: left alone, skipped (why), deferred, or written. */
export type Outcome = 'present' | 'id_taken' | string | { keptId: boolean };

/** Thrown inside the transaction to roll a dry run back while keeping its report. */
export class DryRun extends Error {
  constructor(readonly report: ImportReport) {
    super('dry run');
  }
}

export class ImportTally {
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

/** Why an imported user cannot go in as new, from the accounts sharing its keys (or undefined). */
export function clashWith(user: LegacyUser, clash: Array<{ usernameKey: string; emailKey: string }>): Outcome | undefined {
  // Present: imported before (a later login may have changed the hash, never these keys).
  if (clash.some((c) => c.usernameKey === user.usernameKey && c.emailKey === user.emailKey)) return 'present';
  if (clash.some((c) => c.usernameKey === user.usernameKey)) return 'username belongs to another account';
  if (clash.length > 0) return 'email belongs to another account';
  return undefined;
}
