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
import { and, asc, gt, isNotNull, isNull, or, sql } from 'drizzle-orm';
import type { RevocationRecord, RevocationRecordStore } from '../../../services/ports.js';
import type { Exec } from '../exec.js';
import { pruneInBatches } from './prune.js';

/** pg_advisory_xact_lock key of the feed ("GHRF"). */
export const FEED_LOCK = 0x47485246;

export interface NewRevocation {
  sessionId?: string;
  tokenId?: string;
  /** For a token: when it expires. */
  expiresAt?: Date;
}

/** Appends the records of revocations made in this transaction (`x` must be the transaction). */
export async function recordRevocations(x: Exec, at: Date, entries: NewRevocation[]): Promise<void> {
  if (entries.length === 0) return;
  if (x.dialect === 'pg') await x.raw(sql`SELECT pg_advisory_xact_lock(${FEED_LOCK})`);
  await x.run(
    x.db.insert(x.tables.revocationEvents).values(
      entries.map((e) => ({ sessionId: e.sessionId ?? null, tokenId: e.tokenId ?? null, at, expiresAt: e.expiresAt ?? null })),
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

  relevantAfter(after: number, sessionCutoff: Date, now: Date, limit: number): Promise<RevocationRecord[]> {
    const { revocationEvents: r } = this.x.tables;
    return this.x.all(
      this.x.db
        .select()
        .from(r)
        .where(and(gt(r.id, after), or(and(isNull(r.tokenId), gt(r.at, sessionCutoff)), and(isNotNull(r.tokenId), gt(r.expiresAt, now)))))
        .orderBy(asc(r.id))
        .limit(limit),
    );
  }

  /** Two indexed passes: session records by `at`, token records by `expires_at`. */
  async prune(sessionCutoff: Date, now: Date): Promise<number> {
    const { revocationEvents: r } = this.x.tables;
    const sessions = await pruneInBatches(this.x, r, r.id, r.at, sessionCutoff, isNull(r.tokenId));
    const tokens = await pruneInBatches(this.x, r, r.id, r.expiresAt, now, isNotNull(r.tokenId));
    return sessions + tokens;
  }
}
