/** Issues access tokens and turns a presented one into a Principal (signature + revocation). */
import { signAccessToken, verifyAccessToken, TokenVerificationError, type TokenSettings } from '../crypto/jwt.js';
import { newId } from '../crypto/random.js';
import type { Principal, User } from '../domain/types.js';
import { invalidToken } from '../errors/index.js';
import type { KeyRing } from './key-ring.js';
import type { Clock, SessionStore } from './ports.js';

export const DEFAULT_CLIENT_ID = 'gatehouse';

export class AccessTokens {
  constructor(
    private readonly keys: KeyRing,
    private readonly sessions: SessionStore,
    private readonly settings: TokenSettings & { ttlSeconds: number },
    private readonly clock: Clock,
  ) {}

  get ttlSeconds(): number {
    return this.settings.ttlSeconds;
  }

  async issue(user: User, sessionId: string, clientId = DEFAULT_CLIENT_ID): Promise<string> {
    const { token } = await signAccessToken(
      { sub: String(user.id), sid: sessionId, jti: newId(), username: user.username, clientId },
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
    let claims;
    try {
      claims = await verifyAccessToken(token, (kid) => this.keys.verifyKey(kid), this.settings, now);
    } catch (error) {
      if (error instanceof TokenVerificationError) {
        throw invalidToken(error.reason === 'expired' ? 'The access token has expired' : undefined);
      }
      throw error;
    }
    if (!(await this.sessions.isAccessAllowed(claims.sid, claims.jti, now))) {
      throw invalidToken('The access token has been revoked');
    }
    return { userId: Number(claims.sub), sessionId: claims.sid, tokenId: claims.jti, claims };
  }
}
