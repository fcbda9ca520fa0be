/**
 * The refresh rotation's decision, applied to the located session: written once for both
 * dialects. Each dialect's hot path (sqlite/sessions.ts, pg/sessions.ts) locates the row
 * under its lock, asks planRotation what to write and what to answer, and writes it with
 * its own prepared or named statements.
 */
import type { TokenMatch } from '../../../domain/refresh-rotation.js';
import type { RotationOutcome, RotationRequest } from '../../../services/ports.js';
import { rotatedSession, toSession, type SessionRow } from '../mappers.js';

export interface Located {
  row: SessionRow;
  match: TokenMatch;
}

/** What a rotation writes, if anything. */
export type RotationWrite =
  /**
   * Record the child's hash (refresh_token_hashes, expiring with it) and set the rotated
   * columns: the presented hash becomes the previous one, the child's the current one.
   */
  | { kind: 'rotate'; id: string; childHash: string; childExpiresAt: Date; columns: ReturnType<typeof rotatedSession> }
  /** A replay inside the grace window: only the last use moves. */
  | { kind: 'touch'; id: string; at: Date }
  /** Reuse of a rotated token: the whole family ends. */
  | { kind: 'revoke_for_reuse'; id: string; at: Date };

/**
 * What a presented hash is to the session refresh_token_hashes found for it: its current
 * token, the one rotated last (a replay inside the grace window gets the same child), or
 * an older one (reuse).
 */
export function presentedAs(row: SessionRow, hash: string): Located {
  return { row, match: row.refreshHash === hash ? 'current' : row.previousHash === hash ? 'previous' : 'retired' };
}

export function planRotation(request: RotationRequest, located: Located | undefined): { outcome: RotationOutcome; write?: RotationWrite } {
  if (!located) return { outcome: { found: false } };
  const { row, match } = located;
  const session = toSession(row);
  const decision = request.decide(match, session);
  const now = request.now;
  switch (decision.kind) {
    case 'rotate': {
      const columns = rotatedSession(row, request);
      return {
        outcome: { found: true, session: toSession({ ...row, ...columns }), decision, seal: null },
        write: { kind: 'rotate', id: row.id, childHash: request.childHash, childExpiresAt: request.childExpiresAt, columns },
      };
    }
    case 'replay':
      return { outcome: { found: true, session, decision, seal: row.childSeal }, write: { kind: 'touch', id: row.id, at: now } };
    case 'reuse':
      return {
        outcome: { found: true, session: { ...session, revokedAt: now }, decision, seal: null },
        write: { kind: 'revoke_for_reuse', id: row.id, at: now },
      };
    case 'refuse':
      return { outcome: { found: true, session, decision, seal: null } };
  }
}
