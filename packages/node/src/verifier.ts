/**
 * createVerifier: checks Gatehouse access tokens locally, as RFC 9068 asks (typ at+jwt,
 * iss, aud, exp, pinned algorithms), with the key set fetched and cached by jose (refetched
 * when an unknown kid appears), a bounded cache of verified tokens, and, when given a
 * revocation feed, the revocation check on every request.
 */
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { TokenError } from './errors.js';
import type { RevocationFeed } from './revocations.js';

/** The claims of a Gatehouse access token (RFC 9068 plus Gatehouse's own). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  /** The session: revoking it (logout) revokes every token it issued. */
  sid?: string;
  username?: string;
  client_id?: string;
  /** Space-separated (RFC 9068 §2.2.3). */
  scope?: string;
  /** RFC 8176 authentication methods, e.g. `["pwd","otp","mfa"]`. */
  amr?: string[];
  auth_time?: number;
  [claim: string]: unknown;
}

export interface VerifierOptions {
  /** Gatehouse's PUBLIC_URL: the expected `iss`. */
  issuer: string;
  /** The expected `aud` (JWT_AUDIENCE, or your client's audience). */
  audience: string | string[];
  /** Accepted algorithms: Gatehouse's ALGORITHM. Default `['EdDSA']`. */
  algorithms?: string[];
  /** Default `${issuer}/.well-known/jwks.json`. */
  jwksUri?: string;
  /** After a key-set fetch, no other for this long, however many unknown kids arrive. Default 5000. */
  jwksCooldownMs?: number;
  /** Key set (tests, or keys you distribute yourself); overrides jwksUri. */
  keys?: JWTVerifyGetKey;
  /** Tolerated clock difference on exp/iat/nbf, seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Verified tokens remembered until they expire (keyed by a SHA-256 digest). 0 disables. Default 10000. */
  cacheSize?: number;
  /** The revocation feed: makes logouts and revocations reach this server. */
  revocations?: RevocationFeed;
}

export interface Verifier {
  /** Verifies a bare token; throws TokenError. */
  verify(token: string): Promise<AccessTokenClaims>;
  /** Reads `Authorization: Bearer ...` and verifies it; throws TokenError (missing_token without one). */
  authenticate(authorization: string | undefined): Promise<AccessTokenClaims>;
}

const ALGORITHM_FAMILIES = new Set(['EdDSA', 'Ed25519', 'ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);

export function createVerifier(options: VerifierOptions): Verifier {
  const algorithms = options.algorithms ?? ['EdDSA'];
  for (const alg of algorithms) {
    // Symmetric algorithms cannot be verified from a public key set; `none` is never a choice.
    if (!ALGORITHM_FAMILIES.has(alg)) throw new TypeError(`algorithm ${alg} is not accepted (asymmetric algorithms only)`);
  }
  const issuer = options.issuer.replace(/\/+$/, '');
  const keys = options.keys ?? createRemoteJWKSet(new URL(options.jwksUri ?? `${issuer}/.well-known/jwks.json`), {
    cooldownDuration: options.jwksCooldownMs ?? 5000,
  });
  const tolerance = options.clockToleranceSeconds ?? 5;
  const cacheSize = options.cacheSize ?? 10_000;
  const cache = new Map<string, AccessTokenClaims>();
  const feed = options.revocations;

  async function verifySignature(token: string): Promise<AccessTokenClaims> {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms,
        typ: 'at+jwt',
        clockTolerance: tolerance,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
      });
      return payload as AccessTokenClaims;
    } catch (error) {
      throw toTokenError(error);
    }
  }

  async function verify(token: string): Promise<AccessTokenClaims> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192) throw new TokenError('invalid_token', 'The access token is malformed');
    const key = cacheSize > 0 ? createHash('sha256').update(token).digest('base64url') : '';
    let claims = cacheSize > 0 ? cache.get(key) : undefined;
    if (claims && (claims.exp + tolerance) * 1000 <= Date.now()) {
      cache.delete(key);
      throw new TokenError('invalid_token', 'The access token has expired');
    }
    if (!claims) {
      claims = await verifySignature(token);
      if (cacheSize > 0) {
        if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
        cache.set(key, claims);
      }
    }
    if (feed) {
      const status = await feed.check(claims, token);
      if (status === 'revoked') throw new TokenError('invalid_token', 'The access token has been revoked');
      if (status === 'unavailable') throw new TokenError('temporarily_unavailable', 'Revocation status is unknown for now; retry shortly');
    }
    return claims;
  }

  return {
    verify,
    async authenticate(authorization) {
      if (!authorization) throw new TokenError('missing_token', 'An access token is required');
      const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
      if (!match) throw new TokenError('invalid_request', 'Use Authorization: Bearer <access token>');
      return verify(match[1]!);
    },
  };
}

/** jose's failures → ours. A key set that cannot be fetched is an outage (503), not a bad token. */
function toTokenError(error: unknown): TokenError {
  if (error instanceof TokenError) return error;
  if (error instanceof joseErrors.JWTExpired) return new TokenError('invalid_token', 'The access token has expired');
  if (error instanceof joseErrors.JWKSTimeout || !(error instanceof joseErrors.JOSEError)) {
    return new TokenError('temporarily_unavailable', 'The signing keys cannot be fetched right now');
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) return new TokenError('invalid_token', `The access token's ${error.claim} claim is not acceptable`);
  return new TokenError('invalid_token', 'The access token is invalid');
}
