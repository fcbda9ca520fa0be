/**
 * Verified access tokens, keyed by the exact token string, so a token used many times
 * (as real clients do) pays for its signature check once. Bounded (oldest entries leave
 * first); an entry is only trusted while its token is unexpired and the key that signed
 * it is still published. The revocation check is never cached: it runs on every request.
 * (Envoy's jwt_authn cache is the precedent.)
 */
import type { AccessClaims } from '../domain/types.js';

interface Entry {
  claims: AccessClaims;
  kid: string;
}

export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

  get(token: string, nowSeconds: number, clockSkewSeconds: number, keyUsable: (kid: string) => boolean): AccessClaims | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.claims.exp + clockSkewSeconds < nowSeconds || !keyUsable(entry.kid)) {
      this.entries.delete(token);
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
    this.entries.set(token, { claims, kid });
  }

  get size(): number {
    return this.entries.size;
  }
}
