/**
 * The revocation feed's ordered record (ports: RevocationRecordStore). Every store that
 * revokes (sessions, revoked tokens, users) calls recordRevocations() inside the same
 * transaction as the revocation, so a revocation and its record commit together.
 *
 * Order: the feed's cursor is the record id, and a subscriber that has seen id N never
 * asks for anything below N again. SQLite has one writer at a time, so ids commit in
 * order. PostgreSQL takes ids from a sequence at insert time but shows them at commit, so
 * two revoking transactions could commit out of id order and a poller that had read the
 * higher id would skip the lower one for ever: a transaction-scoped advisory lock, taken
 * just before the insert (after the revoked rows are locked, so no new lock order appears
 * among them), makes revoking transactions take their ids and commit one at a time.
 */
import { and, asc, gt, isNull, or, sql } from 'drizzle-orm';
import type { RevocationRecord, RevocationRecordStore } from '../../../services/ports.js';
import type { Exec } from '../exec.js';
import { pruneInBatches } from './prune.js';

/** pg_advisory_xact_lock key of the feed ("GHRF"). */
export const FEED_LOCK = 0x47485246;

/**
 * How long after its revocation a session's last access token may still be accepted:
 * ACCESS_TOKEN_EXPIRE_MINUTES plus JWT_CLOCK_SKEW_SECONDS as configured when it was
 * revoked. Each session record stores its own `expires_at` from it, so the feed's `exp`
 * (and which records a new subscriber is sent, and when one is pruned) stays what it was
 * after a restart with a shorter lifetime, while tokens of the longer one are alive. The
 * composition root passes the configured value; this default (the settings' defaults) is
 * for stores opened on their own, by tests and tools.
 */
export const DEFAULT_SESSION_RECORD_LIFETIME_MS = (30 * 60 + 30) * 1000;

export interface NewRevocation {
  sessionId?: string;
  tokenId?: string;
  /** When the last token the record covers expires. */
  expiresAt: Date;
}

/** The records of sessions revoked at `at`. */
export function sessionRevocations(sessionIds: string[], at: Date, lifetimeMs: number): NewRevocation[] {
  const expiresAt = new Date(at.getTime() + lifetimeMs);
  return sessionIds.map((sessionId) => ({ sessionId, expiresAt }));
}

/** Appends the records of revocations made in this transaction (`x` must be the transaction). */
export async function recordRevocations(x: Exec, at: Date, entries: NewRevocation[]): Promise<void> {
  if (entries.length === 0) return;
  if (x.dialect === 'pg') await x.raw(sql`SELECT pg_advisory_xact_lock(${FEED_LOCK})`);
  await x.run(
    x.db.insert(x.tables.revocationEvents).values(
      entries.map((e) => ({ sessionId: e.sessionId ?? null, tokenId: e.tokenId ?? null, at, expiresAt: e.expiresAt })),
    ),
  );
}

export class DrizzleRevocationRecordStore implements RevocationRecordStore {
  constructor(private readonly x: Exec) {}

  async head(): Promise<number> {
    const { revocationEvents: r } = this.x.tables;
    const row = await this.x.get(this.x.db.select({ id: r.id }).from(r).orderBy(sql`${r.id} DESC`).limit(1));
    return row?.id ?? 0;
  }

  after(after: number, limit: number): Promise<RevocationRecord[]> {
    const { revocationEvents: r } = this.x.tables;
    return this.x.all(this.x.db.select().from(r).where(gt(r.id, after)).orderBy(asc(r.id)).limit(limit));
  }

  /** `sessionCutoff` is for session records written before they stored `expires_at` (null there). */
  relevantAfter(after: number, sessionCutoff: Date, now: Date, limit: number): Promise<RevocationRecord[]> {
    const { revocationEvents: r } = this.x.tables;
    return this.x.all(
      this.x.db
        .select()
        .from(r)
        .where(and(gt(r.id, after), or(gt(r.expiresAt, now), and(isNull(r.expiresAt), gt(r.at, sessionCutoff)))))
        .orderBy(asc(r.id))
        .limit(limit),
    );
  }

  /** Two indexed passes: records by `expires_at`, then the older session records without it by `at`. */
  async prune(sessionCutoff: Date, now: Date): Promise<number> {
    const { revocationEvents: r } = this.x.tables;
    const expired = await pruneInBatches(this.x, r, r.id, r.expiresAt, now);
    const older = await pruneInBatches(this.x, r, r.id, r.at, sessionCutoff, isNull(r.expiresAt));
    return expired + older;
  }
}
