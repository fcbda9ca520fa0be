/** Entities as the services see them; stores map rows to these. */

export interface User {
  id: number;
  username: string;
  email: string;
  emailVerified: boolean;
  passwordHash: string;
  createdAt: Date;
}

export interface Session {
  id: string;
  userId: number;
  clientId: string;
  generation: number;
  userAgent: string | null;
  ip: string | null;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  rotatedAt: Date | null;
  revokedAt: Date | null;
}

export interface AccessClaims {
  sub: string;
  sid: string;
  jti: string;
  username: string;
  exp: number;
  iat: number;
  aud: string | string[];
  clientId: string;
  /** Space-separated scopes (RFC 9068 §2.2.3), on tokens issued through OpenID Connect. */
  scope?: string | undefined;
}

export type GrantType = 'password' | 'refresh_token' | 'authorization_code';

/** ID token signing algorithms a client may register (RS256 is OpenID Connect's default). */
export type IdTokenAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

/** An OAuth client. The built-in public client `gatehouse` stands for the original endpoints. */
export interface OAuthClient {
  id: string;
  name: string;
  /** SHA-256 of the secret; null for a public client (no secret to present). */
  secretHash: string | null;
  grantTypes: GrantType[];
  /** The `aud` of its access tokens; the server's JWT_AUDIENCE when null. */
  audience: string | null;
  createdAt: Date;
  /** OpenID Connect: exact redirect URIs; empty for a client without the code flow. */
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  /** Scopes the client may ask for (openid, profile, email, offline_access). */
  scopes: string[];
  /** First-party clients skip the consent screen. */
  firstParty: boolean;
  idTokenAlg: IdTokenAlgorithm;
  /** Back-Channel Logout 1.0 endpoint, when the client registered one. */
  backchannelLogoutUri: string | null;
}

/** What an authenticated request knows about its caller. */
export interface Principal {
  userId: number;
  sessionId: string;
  tokenId: string;
  claims: AccessClaims;
  /** The caller as of this request (loaded by the revocation check itself). */
  user: User;
  /** An original-service token accepted in transition mode (no Gatehouse session behind it). */
  legacy?: boolean;
}
