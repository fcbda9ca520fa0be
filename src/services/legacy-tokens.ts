/**
 * Transition mode (LEGACY_SECRET_KEY): JWTs issued by the original FastAPI service (HS256,
 * `sub` = username) stay usable until they expire: an access token authenticates, a
 * refresh token is exchanged once for a Gatehouse session. Tokens the original service
 * blacklisted (imported by `gatehouse import`) and tokens already exchanged are refused.
 * Off by default; LEGACY_TOKENS_UNTIL ends it on a date.
 */
import { jwtVerify } from 'jose';
import { canonicalJwsParts, canonicalizeJws } from '../crypto/compact-jws.js';
import { hashToken } from '../crypto/random.js';
import type { Clock } from './ports.js';

export interface LegacyTokenOptions {
  secretKey: string;
  algorithm: 'HS256' | 'HS384' | 'HS512';
  /** After this moment no legacy token is accepted. */
  until: Date | undefined;
  /** The original's access-token lifetime: tells its access tokens from its refresh tokens. */
  accessTtlSeconds: number;
  clockSkewSeconds: number;
}

/**
 * The revocation key of an original token: the hash of its canonical spelling, never the
 * token itself. Presented tokens are canonical already (verify refuses the rest); the
 * original's blacklist may hold any spelling.
 */
export const legacyTokenId = (token: string): string => `legacy:${hashToken(canonicalizeJws(token))}`;

export class LegacyTokens {
  private readonly key: Uint8Array;

  constructor(
    private readonly options: LegacyTokenOptions,
    private readonly clock: Clock,
  ) {
    this.key = new TextEncoder().encode(options.secretKey);
  }

  /**
   * The username and expiry of an unexpired original token of the given use, or undefined.
   * The original did not always mark token types; where a `type` claim is missing, see
   * untypedTokenIs.
   */
  async verify(token: string, use: 'access' | 'refresh'): Promise<{ username: string; exp: number; iat: number | undefined; id: string } | undefined> {
    const now = this.clock.now();
    if (this.options.until && now.getTime() >= this.options.until.getTime()) return undefined;
    // jose decodes leniently: `h.p.s=` or `h.p. s` would verify as new spellings, each with
    // a revocation key of its own (exchanged again, alive after logout).
    if (!canonicalJwsParts(token)) return undefined;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: [this.options.algorithm],
        currentDate: now,
        clockTolerance: this.options.clockSkewSeconds,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch {
      return undefined;
    }
    const { sub, exp } = payload;
    if (typeof sub !== 'string' || typeof exp !== 'number') return undefined;
    const declared = payload.type ?? payload.token_type;
    if (typeof declared === 'string') {
      if (declared.toLowerCase() !== use) return undefined;
    } else if (!this.untypedTokenIs(use, payload.iat, exp, now)) {
      return undefined;
    }
    const iat = typeof payload.iat === 'number' && Number.isFinite(payload.iat) ? payload.iat : undefined;
    return { username: sub, exp, iat, id: legacyTokenId(token) };
  }

  /**
   * Voided by a password change, a reset or logout-all since it was issued? A token that
   * does not say when it was issued is void once anything was voided.
   */
  static isVoided(token: { iat: number | undefined }, voidBefore: Date | null): boolean {
    if (voidBefore === null) return false;
    return token.iat === undefined || token.iat * 1000 <= voidBefore.getTime();
  }

  /**
   * An untyped token is told apart by its whole lifetime (`exp - iat`): an access token
   * never lived longer than the original's access lifetime. Its remaining lifetime would
   * not do: a refresh token in its last half hour looks like an access token. Without
   * `iat` only the certain case is taken: a token with more left than an access token
   * ever has is a refresh token; nothing is certainly an access token.
   */
  private untypedTokenIs(use: 'access' | 'refresh', iat: unknown, exp: number, now: Date): boolean {
    const accessLimit = this.options.accessTtlSeconds + this.options.clockSkewSeconds;
    if (typeof iat === 'number' && Number.isFinite(iat)) return (exp - iat <= accessLimit) === (use === 'access');
    return use === 'refresh' && exp - now.getTime() / 1000 > accessLimit;
  }
}
