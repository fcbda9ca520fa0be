/**
 * What the OpenID Connect use cases need from storage, beyond the session store they share
 * with /login: authorization codes, the link from a client's session to the browser's
 * single sign-on session, and remembered consent.
 */

export interface AuthorizationCode {
  /** SHA-256 of the code: the code itself is never stored. */
  hash: string;
  clientId: string;
  userId: number;
  redirectUri: string;
  codeChallenge: string;
  scope: string[];
  nonce: string | null;
  ssoSessionId: string;
  authTime: Date;
  amr: string[];
  /** Set when the client asked for acr_values. */
  acr: string | null;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  /** The session a redemption created (revoked when the code is presented again). */
  sessionId: string | null;
}

/** The OpenID Connect side of a client session. */
export interface OidcGrant {
  sessionId: string;
  ssoSessionId: string;
  clientId: string;
  scope: string[];
  authTime: Date;
  amr: string[];
  createdAt: Date;
}

export interface OidcStore {
  saveCode(code: AuthorizationCode): Promise<void>;
  findCode(hash: string): Promise<AuthorizationCode | undefined>;
  /** Marks the code used by `sessionId` if it still is unused; false when it was used already. */
  markCodeUsed(hash: string, now: Date, sessionId: string): Promise<boolean>;
  saveGrant(grant: OidcGrant): Promise<void>;
  findGrant(sessionId: string): Promise<OidcGrant | undefined>;
  /**
   * Revokes a single sign-on session and every client session signed in through it, in
   * one statement; returns the client sessions that were live (for back-channel logout).
   */
  endSsoSession(ssoSessionId: string, now: Date, reason: string): Promise<Array<{ sessionId: string; clientId: string }>>;
  /** Client ids each of these single sign-on sessions signed in to. */
  clientsOf(ssoSessionIds: string[]): Promise<Map<string, string[]>>;
  findConsent(userId: number, clientId: string): Promise<string[] | undefined>;
  /** Remembers (or widens) consent; scopes are merged with what was granted before. */
  saveConsent(userId: number, clientId: string, scope: string[], now: Date): Promise<void>;
  listConsents(userId: number): Promise<Array<{ clientId: string; scope: string[]; createdAt: Date }>>;
  /** True when there was a consent to withdraw. */
  revokeConsent(userId: number, clientId: string): Promise<boolean>;
  /** Deletes codes that expired before `before`. */
  prune(before: Date): Promise<number>;
}
