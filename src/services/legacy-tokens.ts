/**
 * Transition mode (LEGACY_SECRET_KEY): JWTs issued by the original FastAPI service (HS256,
 * `sub` = username) stay usable until they expire: an access token authenticates, a
 * refresh token is exchanged once for a Gatehouse session. Tokens the original service
 * blacklisted (imported by `gatehouse import`) and tokens already exchanged are refused.
 * Off by default; LEGACY_TOKENS_UNTIL ends it on a date.
 */
import { jwtVerify } from 'jose';
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

/** The revocation key of an original token: its hash, never the token itself. */
export const legacyTokenId = (token: string): string => `legacy:${hashToken(token)}`;

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
   * The original did not always mark token types; where a `type` claim is missing, a token
   * that outlives an access-token lifetime can only be a refresh token, and the reverse.
   */
  async verify(token: string, use: 'access' | 'refresh'): Promise<{ username: string; exp: number; id: string } | undefined> {
    const now = this.clock.now();
    if (this.options.until && now.getTime() >= this.options.until.getTime()) return undefined;
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
    } else {
      const remaining = exp - now.getTime() / 1000;
      const accessLike = remaining <= this.options.accessTtlSeconds + this.options.clockSkewSeconds;
      if (accessLike !== (use === 'access')) return undefined;
    }
    return { username: sub, exp, id: legacyTokenId(token) };
  }
}
