/** Random identifiers and one-way digests of secrets. */
import { hash, randomBytes, randomUUID } from 'node:crypto';

/** Refresh tokens carry a recognisable prefix so secret scanners and log filters can spot them. */
export const REFRESH_TOKEN_PREFIX = 'ghr_';

/** 256 bits from the CSPRNG, base64url. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function newRefreshToken(): string {
  return REFRESH_TOKEN_PREFIX + randomSecret(32);
}

/** Single-use email tokens (verification, reset): same strength, their own prefix. */
export function newEmailToken(): string {
  return 'ghm_' + randomSecret(32);
}

export function newId(): string {
  return randomUUID();
}

/**
 * Tokens with 256 bits of entropy need no salt or slow hash: SHA-256 is a lookup key that
 * reveals nothing (the same choice as supabase/auth and GitHub for their tokens).
 */
export function hashToken(token: string): string {
  // One-shot crypto.hash (Node >= 20.12): ~0.7 µs for an access token here, about half of
  // createHash().update().digest(). The verified-token cache keys on it too.
  return hash('sha256', token, 'base64url');
}

