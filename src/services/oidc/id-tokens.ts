/**
 * ID tokens (OpenID Connect Core §2) and logout tokens (Back-Channel Logout 1.0 §2.4),
 * signed with the algorithm the client registered, from the key ring for that algorithm.
 * crypto/jwt.ts signs them (node:crypto, pinned to jose's SignJWT by
 * test/unit/jwt.test.ts); jose verifies the id_token_hint, which is rare.
 */
import { compactVerify, decodeProtectedHeader } from 'jose';
import { signJwt } from '../../crypto/jwt.js';
import { newId } from '../../crypto/random.js';
import type { IdTokenAlgorithm, OAuthClient, User } from '../../domain/types.js';
import type { KeyRings } from '../key-rings.js';
import { ID_TOKEN_ALGORITHMS } from '../key-rings.js';
import type { Clock } from '../ports.js';

export interface IdTokenInput {
  user: User;
  client: OAuthClient;
  scope: readonly string[];
  nonce: string | null;
  authTime: Date;
  amr: readonly string[];
  acr: string | null;
  /** The single sign-on session: what RP-initiated and back-channel logout name. */
  sid: string;
}

export class IdTokens {
  constructor(
    private readonly keys: KeyRings,
    private readonly issuer: string,
    private readonly ttlSeconds: number,
    private readonly clock: Clock,
  ) {}

  async issue(input: IdTokenInput): Promise<string> {
    const { user, client, scope } = input;
    const claims: Record<string, unknown> = {
      auth_time: Math.floor(input.authTime.getTime() / 1000),
      sid: input.sid,
      amr: input.amr,
      azp: client.id,
    };
    if (input.nonce !== null) claims.nonce = input.nonce;
    if (input.acr !== null) claims.acr = input.acr;
    if (scope.includes('profile')) claims.preferred_username = user.username;
    if (scope.includes('email')) {
      claims.email = user.email;
      claims.email_verified = user.emailVerified;
    }
    return this.sign(client.idTokenAlg, claims, { sub: String(user.id), aud: client.id, typ: 'JWT', ttl: this.ttlSeconds });
  }

  /** Back-Channel Logout 1.0 §2.4: no nonce, the logout event, typ logout+jwt. */
  async logoutToken(client: OAuthClient, userId: number, sid: string): Promise<string> {
    return this.sign(
      client.idTokenAlg,
      { sid, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } },
      { sub: String(userId), aud: client.id, typ: 'logout+jwt', ttl: 120 },
    );
  }

  private async sign(alg: IdTokenAlgorithm, claims: Record<string, unknown>, meta: { sub: string; aud: string; typ: string; ttl: number }): Promise<string> {
    const ring = await this.keys.idTokenRing(alg);
    const { kid, key } = await ring.signingKey();
    const now = Math.floor(this.clock.now().getTime() / 1000);
    // RFC 7519 registered claims after the caller's, in the order SignJWT sets them.
    return signJwt(alg, { kid, key }, meta.typ, { ...claims, iss: this.issuer, sub: meta.sub, aud: meta.aud, iat: now, exp: now + meta.ttl, jti: newId() });
  }

  /**
   * An id_token_hint (RP-initiated logout §2): one of our ID tokens, signature and issuer
   * checked; it may have expired (a hint names whom to log out, it proves no freshness).
   * Undefined for anything else, a forgery included.
   */
  async verifyHint(token: string): Promise<{ sub: string; aud: string; sid: string | undefined } | undefined> {
    try {
      const header = decodeProtectedHeader(token);
      const alg = header.alg as IdTokenAlgorithm;
      if (!ID_TOKEN_ALGORITHMS.includes(alg) || typeof header.kid !== 'string') return undefined;
      const ring = await this.keys.idTokenRing(alg);
      const key = await ring.verifyKey(header.kid);
      if (!key) return undefined;
      const { payload } = await compactVerify(token, key, { algorithms: [alg] });
      const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
      if (claims.iss !== this.issuer || typeof claims.sub !== 'string') return undefined;
      const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
      if (typeof aud !== 'string') return undefined;
      return { sub: claims.sub, aud, sid: typeof claims.sid === 'string' ? claims.sid : undefined };
    } catch {
      return undefined;
    }
  }
}
