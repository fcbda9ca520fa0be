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
}

export type GrantType = 'password' | 'refresh_token';

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
