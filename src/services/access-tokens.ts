/** Issues access tokens and turns a presented one into a Principal (signature + revocation). */
import { signAccessToken, verifyAccessToken, TokenVerificationError, type TokenSettings } from '../crypto/jwt.js';
import { newId } from '../crypto/random.js';
import type { AccessClaims, OAuthClient, Principal, Session, User } from '../domain/types.js';
import { invalidToken } from '../errors/index.js';
import type { KeyRing } from './key-ring.js';
import type { Clock, SessionStore } from './ports.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** What AccessTokens is built from (composition.ts). */
export interface AccessTokensDeps {
  keys: KeyRing;
  sessions: SessionStore;
  settings: TokenSettings & { audience: string; ttlSeconds: number; cacheSize: number };
  clock: Clock;
}

export class AccessTokens {
  private readonly keys: KeyRing;
  private readonly sessions: SessionStore;
  private readonly settings: AccessTokensDeps['settings'];
  private readonly clock: Clock;
  private readonly cache: VerifiedTokenCache;

  constructor(deps: AccessTokensDeps) {
    this.keys = deps.keys;
    this.sessions = deps.sessions;
    this.settings = deps.settings;
    this.clock = deps.clock;
    this.cache = new VerifiedTokenCache(deps.settings.cacheSize);
  }

  get ttlSeconds(): number {
    return this.settings.ttlSeconds;
  }

  /** RFC 9068: `aud` is the client's resource server when it names one, else ours. */
  /** `session` carries the login's time and methods (`auth_time`, `amr`), kept across refreshes. */
  async issue(user: User, session: Pick<Session, 'id' | 'createdAt' | 'amr'>, client: OAuthClient, scope?: string): Promise<string> {
    const { token } = await signAccessToken(
      {
        sub: String(user.id),
        sid: session.id,
        jti: newId(),
        authTime: Math.floor(session.createdAt.getTime() / 1000),
        amr: session.amr,
        username: user.username,
        clientId: client.id,
        audience: client.audience ?? this.settings.audience,
        scope,
      },
      await this.keys.signingKey(),
      this.settings,
      this.clock.now(),
      this.settings.ttlSeconds,
    );
    return token;
  }

  /**
   * Signature, algorithm, issuer, audience, type and lifetime first (no I/O for a forged
   * token), then the revocation check against the session on every request.
   */
  async authenticate(token: string): Promise<Principal> {
    const now = this.clock.now();
    const cacheKey = this.cache.keyOf(token);
    let claims = this.cache.get(cacheKey, Math.floor(now.getTime() / 1000), this.settings.clockSkewSeconds, (kid) => this.keys.isUsable(kid));
    if (!claims) {
      let usedKid: string | undefined;
      try {
        claims = await verifyAccessToken(
          token,
          (kid) => {
            usedKid = kid;
            return this.keys.verifyKey(kid);
          },
          this.settings,
          now,
        );
      } catch (error) {
        if (error instanceof TokenVerificationError) {
          throw invalidToken(error.reason === 'expired' ? 'The access token has expired' : undefined);
        }
        throw error;
      }
      if (usedKid !== undefined) this.cache.set(cacheKey, claims, usedKid);
    }
    const user = await this.sessions.findLiveSessionUser(claims.sid, claims.jti, now);
    if (!user) throw invalidToken('The access token has been revoked');
    return { userId: user.id, sessionId: claims.sid, tokenId: claims.jti, claims, user };
  }

  /**
   * For introspection and revocation: the claims of a token this server issued, for any
   * audience, or undefined when it is not one (forged, expired, malformed).
   */
  async inspect(token: string): Promise<AccessClaims | undefined> {
    try {
      return await verifyAccessToken(
        token,
        (kid) => this.keys.verifyKey(kid),
        { ...this.settings, audience: undefined },
        this.clock.now(),
      );
    } catch (error) {
      if (error instanceof TokenVerificationError) return undefined;
      throw error;
    }
  }

  async isActive(claims: AccessClaims): Promise<boolean> {
    return (await this.sessions.findLiveSessionUser(claims.sid, claims.jti, this.clock.now())) !== undefined;
  }
}
