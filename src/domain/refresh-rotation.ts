/**
 * The refresh-token rotation rule, as a pure decision over the locked session row.
 * Stores run it inside the transaction that holds the row, so two refreshes of one
 * session can never both see the same state.
 */
import type { Session } from './types.js';

/** Where the presented token's hash was found in its family. */
export type TokenMatch = 'current' | 'previous' | 'retired';

export type RotationDecision =
  /** The current token: issue the next one. */
  | { kind: 'rotate' }
  /** The just-rotated token again within the grace window: hand back the same child. */
  | { kind: 'replay' }
  /** A rotated token outside the grace window (or older): the family is compromised. */
  | { kind: 'reuse' }
  /** Nothing to do but refuse. */
  | { kind: 'refuse'; reason: 'revoked' | 'expired' | 'wrong_client' };

export function decideRotation(input: {
  match: TokenMatch;
  session: Session;
  now: Date;
  graceMs: number;
  /** The client presenting the token: another client's token is refused, untouched. */
  clientId: string;
}): RotationDecision {
  const { match, session, now, graceMs } = input;
  if (session.clientId !== input.clientId) return { kind: 'refuse', reason: 'wrong_client' };
  if (session.revokedAt !== null) return { kind: 'refuse', reason: 'revoked' };
  if (session.expiresAt.getTime() <= now.getTime()) return { kind: 'refuse', reason: 'expired' };
  if (match === 'current') return { kind: 'rotate' };
  if (
    match === 'previous' &&
    session.rotatedAt !== null &&
    now.getTime() - session.rotatedAt.getTime() <= graceMs
  ) {
    return { kind: 'replay' };
  }
  return { kind: 'reuse' };
}
