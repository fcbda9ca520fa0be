/** Why a request was refused, and the RFC 6750 / RFC 9470 answer that goes with it. */

export type TokenErrorCode =
  /** No token at all (RFC 6750 §3.1: the challenge carries no error code). */
  | 'missing_token'
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  /** RFC 9470: the token's authentication (amr, auth_time) is not strong or fresh enough. */
  | 'insufficient_user_authentication'
  /** Revocation status unknown (feed down past its bound, introspection failing), or the JWKS unreachable. */
  | 'temporarily_unavailable';

const STATUS: Record<TokenErrorCode, number> = {
  missing_token: 401,
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  insufficient_user_authentication: 401,
  temporarily_unavailable: 503,
};

export class TokenError extends Error {
  readonly status: number;

  constructor(
    readonly code: TokenErrorCode,
    message: string,
    /** Extra challenge parameters: `scope` (RFC 6750), `acr_values`, `max_age` (RFC 9470). */
    readonly challenge: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'TokenError';
    this.status = STATUS[code];
  }

  /** The `WWW-Authenticate` value, or undefined for a 503 (nothing the client can fix). */
  wwwAuthenticate(realm?: string): string | undefined {
    if (this.code === 'temporarily_unavailable') return undefined;
    const params: Record<string, string> = {};
    if (realm) params.realm = realm;
    if (this.code !== 'missing_token') {
      params.error = this.code;
      params.error_description = this.message;
    }
    Object.assign(params, this.challenge);
    const list = Object.entries(params).map(([k, v]) => `${k}="${v.replace(/["\\]/g, '')}"`);
    return list.length > 0 ? `Bearer ${list.join(', ')}` : 'Bearer';
  }

  /** An RFC 9457 problem body, like Gatehouse's own. */
  problem(): { type: string; title: string; status: number; detail: string; code: string } {
    return { type: 'about:blank', title: this.code.replace(/_/g, ' '), status: this.status, detail: this.message, code: this.code };
  }
}
