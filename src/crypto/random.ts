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


/** mfa_token of a login half done (password right, second factor pending). */
export function newMfaToken(): string {
  return 'ghf_' + randomSecret(32);
}

const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/**
 * A recovery code: 16 characters from a 31-letter alphabet without look-alikes (~79 bits),
 * shown as xxxx-xxxx-xxxx-xxxx. At that strength a SHA-256 digest is safe to store: no
 * offline search reaches it, and checking one costs nothing (no argon2 per attempt).
 */
export function newRecoveryCode(): string {
  const bytes = randomBytes(32);
  let code = '';
  for (const byte of bytes) {
    // Rejection sampling: 248 = 8 * 31, so every letter is equally likely.
    if (byte >= 248) continue;
    code += RECOVERY_ALPHABET[byte % 31];
    if (code.length === 16) break;
  }
  if (code.length < 16) return newRecoveryCode();
  return code.match(/.{4}/g)!.join('-');
}

/** Typed by people: case, spaces and dashes do not matter. */
export function normaliseRecoveryCode(input: string): string {
  const bare = input.toLowerCase().replace(/[\s-]/g, '');
  return bare.length === 16 ? bare.match(/.{4}/g)!.join('-') : bare;
}
