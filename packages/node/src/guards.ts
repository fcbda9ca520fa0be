/** Scope (RFC 6750 §3.1) and authentication-strength (RFC 9470) guards over verified claims. */
import { TokenError } from './errors.js';
import type { AccessTokenClaims } from './verifier.js';

export interface GuardOptions {
  /** Every one of these scopes must be granted (`scope` claim, space-separated). */
  scopes?: string[];
  /** At least one of these `amr` values must be present (e.g. `['mfa']` or `['otp','hwk']`). */
  amr?: string[];
  /** The user must have authenticated at most this many seconds ago (`auth_time`). */
  maxAgeSeconds?: number;
}

/** Throws `insufficient_scope` (403) unless every scope is granted. */
export function requireScope(claims: AccessTokenClaims, scopes: string[]): void {
  const granted = new Set(typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : []);
  const missing = scopes.filter((s) => !granted.has(s));
  if (missing.length > 0) {
    throw new TokenError('insufficient_scope', `This needs the scope ${missing.join(' ')}`, { scope: scopes.join(' ') });
  }
}

/** Throws `insufficient_user_authentication` (401, RFC 9470) unless the login was strong and fresh enough. */
export function requireAuthentication(claims: AccessTokenClaims, rule: { amr?: string[]; maxAgeSeconds?: number }): void {
  if (rule.amr && rule.amr.length > 0) {
    const methods = Array.isArray(claims.amr) ? claims.amr : [];
    if (!rule.amr.some((m) => methods.includes(m))) {
      throw new TokenError('insufficient_user_authentication', `This needs a login with ${rule.amr.join(' or ')}`);
    }
  }
  if (rule.maxAgeSeconds !== undefined) {
    const authTime = typeof claims.auth_time === 'number' ? claims.auth_time : claims.iat;
    if (Date.now() / 1000 - authTime > rule.maxAgeSeconds) {
      throw new TokenError('insufficient_user_authentication', 'This needs a more recent login', { max_age: String(rule.maxAgeSeconds) });
    }
  }
}

export function applyGuards(claims: AccessTokenClaims, options: GuardOptions): void {
  if (options.scopes && options.scopes.length > 0) requireScope(claims, options.scopes);
  if (options.amr || options.maxAgeSeconds !== undefined) requireAuthentication(claims, options);
}
