/**
 * Verified access tokens, so a token used many times (as real clients do) pays for its
 * signature check once. An entry is only trusted while its token is unexpired and the key
 * that signed it is still published. The revocation check is never cached: it runs on
 * every request. (Envoy's jwt_authn cache is the precedent.)
 *
 * Keyed by the SHA-256 digest of the exact token string (hashToken, as refresh tokens are
 * stored), not by the string itself: a hit still means "this very token" (equal digests
 * mean equal tokens), an entry costs ~0.5 KB less (a token is ~500 bytes), and the cache
 * holds no bearer token a heap dump could leak.
 * Bounded: the oldest entry leaves first (ACCESS_TOKEN_CACHE_SIZE, 0 turns it off).
 */
import { hashToken } from '../crypto/random.js';
import type { AccessClaims } from '../domain/types.js';

interface Entry {
  claims: AccessClaims;
  kid: string;
}

export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

  get(token: string, nowSeconds: number, clockSkewSeconds: number, keyUsable: (kid: string) => boolean): AccessClaims | undefined {
    if (this.maxEntries <= 0) return undefined;
    const key = hashToken(token);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.claims.exp + clockSkewSeconds < nowSeconds || !keyUsable(entry.kid)) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.claims;
  }

  set(token: string, claims: AccessClaims, kid: string): void {
    if (this.maxEntries <= 0) return;
    if (this.entries.size >= this.maxEntries) {
      // Map keeps insertion order: the first key is the oldest entry.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(hashToken(token), { claims, kid });
  }

  get size(): number {
    return this.entries.size;
  }
}
