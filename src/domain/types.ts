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
  /** How the login proved who it was (RFC 8176 values); `auth_time` is createdAt. */
  amr: Amr[];
}

/**
 * RFC 8176 authentication method references. `pwd` password, `otp` a one-time code (TOTP
 * or recovery code), `hwk` a hardware-bound key (passkey), `user` the authenticator
 * verified the user, `mfa` more than one factor.
 */
export type Amr = 'pwd' | 'otp' | 'hwk' | 'user' | 'mfa';

export type FactorType = 'totp' | 'webauthn';

/** A second factor. Pending (activatedAt null) until its first use proves it works. */
export interface MfaFactor {
  id: string;
  userId: number;
  type: FactorType;
  name: string;
  createdAt: Date;
  activatedAt: Date | null;
  lastUsedAt: Date | null;
  /** TOTP: the seed sealed under the key-encryption key. */
  secretSealed: string | null;
  /** WebAuthn: credential id (base64url), COSE public key (base64url), signature counter. */
  credentialId: string | null;
  publicKey: string | null;
  counter: number;
  transports: string[];
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
  /** Seconds: when the session's login happened (OIDC / RFC 9470). */
  authTime?: number;
  amr?: Amr[];
  /** Space-separated scopes (RFC 9068 §2.2.3), on tokens issued through OpenID Connect. */
  scope?: string | undefined;
}

/** The second step of a password grant (a client allowed `password` may use it). */
export const MFA_OTP_GRANT = 'urn:gatehouse:params:oauth:grant-type:mfa-otp';

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
