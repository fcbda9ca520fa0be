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
}

/** What an authenticated request knows about its caller. */
export interface Principal {
  userId: number;
  sessionId: string;
  tokenId: string;
  claims: AccessClaims;
}
