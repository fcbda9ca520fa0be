/** Wire shapes of the Gatehouse HTTP contract (shared/spec/API.md) that the client uses. */

export interface TokenResponse {
  access_token: string;
  /** Absent in cookie mode: the server keeps it in an HttpOnly cookie. */
  refresh_token?: string;
  token_type: 'bearer';
  expires_in: number;
  /**
   * A completed login's device token (OWASP device cookies); the server also sets it as
   * an HttpOnly cookie. Outside cookie mode the client keeps it and presents it at the next `login()`.
   */
  device_token?: string;
}

export interface User {
  id: number;
  username: string;
  email: string;
  email_verified: boolean;
  created_at: string;
}

export interface Session {
  id: string;
  created_at: string;
  last_used_at: string | null;
  user_agent: string | null;
  ip: string | null;
  current: boolean;
}

export interface RegisterInput {
  username: string;
  email: string;
  password: string;
  confirm_password?: string;
}

export type LoginResult =
  | { mfaRequired: false }
  | { mfaRequired: true; mfaToken: string; factors: string[] };

export interface PasskeyLoginOptions {
  /** The `mfaToken` of a `login()` that answered `mfaRequired`: the passkey is the second step. */
  mfaToken?: string;
  /** Passed to navigator.credentials.get; `'conditional'` offers the passkeys in the browser's autofill. */
  mediation?: 'conditional' | 'optional' | 'required' | 'silent';
  /** Aborts the ceremony (e.g. a conditional request when the user types a password instead). */
  signal?: AbortSignal;
}

/** `POST /webauthn/register`'s answer: `recovery_codes` (shown once) when it was the first active factor. */
export interface PasskeyRegistered {
  factor_id: string;
  recovery_codes?: string[];
}

export type MfaInput = { mfaToken: string; code: string } | { mfaToken: string; recoveryCode: string };

/** What the client keeps: the tokens and when (by this runtime's clock) the access token expires. */
export interface StoredTokens {
  accessToken: string;
  refreshToken?: string;
  /** Epoch milliseconds, measured locally from `expires_in` (no clock skew with the server). */
  expiresAt: number;
  /** The access token's lifetime in ms (sizes the refresh-ahead margin). */
  lifetime: number;
}

/** Where tokens live: `memory` (default), `local` (localStorage, opt-in), `cookie` (refresh token in an HttpOnly cookie). */
export type StorageMode = 'memory' | 'local' | 'cookie';

export interface ClientOptions {
  /** Gatehouse's base URL, e.g. `https://auth.example.com` (or `''` when same-origin). */
  baseUrl: string;
  storage?: StorageMode;
  /** Names the localStorage entry, the Web Lock and the BroadcastChannel. Default `gatehouse`. */
  key?: string;
  /** Coordinate refreshes with other tabs (Web Locks + BroadcastChannel). Default true. */
  crossTab?: boolean;
  /** Refresh this long before expiry (capped at a quarter of the token's lifetime). Default 30. */
  refreshLeewaySeconds?: number;
  /** The fetch to use (tests, polyfills). Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Called once when the session is over: an explicit logout, or a definite refusal from /refresh. */
  onSignOut?: (reason: 'logout' | 'invalid_grant') => void;
}
