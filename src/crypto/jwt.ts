/**
 * Access tokens: RFC 9068 JWTs. Verification pins the algorithm, issuer, audience and
 * `typ`, so `alg:none`, an HMAC made with a public key, or a token for someone else all
 * fail. Failures are typed, never swallowed into `null`.
 */
import { SignJWT, jwtVerify, errors as joseErrors, type JWTHeaderParameters } from 'jose';
import type { SigningAlgorithm } from '../config/index.js';
import type { AccessClaims } from '../domain/types.js';
import type { SignKey, VerifyKey } from './keys.js';

export const ACCESS_TOKEN_TYP = 'at+jwt';

export interface TokenSettings {
  algorithm: SigningAlgorithm;
  issuer: string;
  /** Required audience; undefined accepts any (introspection answers for every client). */
  audience: string | undefined;
  clockSkewSeconds: number;
}

export type TokenFailure = 'expired' | 'malformed' | 'signature' | 'claims' | 'unknown_key';

export class TokenVerificationError extends Error {
  constructor(
    readonly reason: TokenFailure,
    options?: { cause: unknown },
  ) {
    super(`access token rejected: ${reason}`, options);
    this.name = 'TokenVerificationError';
  }
}

export async function signAccessToken(
  claims: Omit<AccessClaims, 'exp' | 'iat' | 'aud' | 'clientId'> & { clientId: string; audience: string },
  key: { kid: string; key: SignKey },
  settings: Omit<TokenSettings, 'audience'>,
  now: Date,
  ttlSeconds: number,
): Promise<{ token: string; exp: number }> {
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + ttlSeconds;
  const token = await new SignJWT({ sid: claims.sid, username: claims.username, client_id: claims.clientId })
    .setProtectedHeader({ alg: settings.algorithm, kid: key.kid, typ: ACCESS_TOKEN_TYP })
    .setIssuer(settings.issuer)
    .setAudience(claims.audience)
    .setSubject(claims.sub)
    .setJti(claims.jti)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key.key);
  return { token, exp };
}

/** Resolves a verification key by `kid`; undefined when the kid is unknown. */
export type KeyResolver = (kid: string | undefined) => Promise<VerifyKey | undefined>;

/**
 * JWS compact serialisation is three unpadded base64url parts (RFC 7515 §7.1). Base64
 * decoders forgive padding and stray characters, so without this check `token + '=='`
 * would verify as a second spelling of the same token.
 */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export async function verifyAccessToken(
  token: string,
  resolveKey: KeyResolver,
  settings: TokenSettings,
  now: Date,
): Promise<AccessClaims> {
  if (!COMPACT_JWS.test(token)) throw new TokenVerificationError('malformed');
  let payload;
  try {
    ({ payload } = await jwtVerify(
      token,
      async (header: JWTHeaderParameters) => {
        const key = await resolveKey(header.kid);
        if (!key) throw new TokenVerificationError('unknown_key');
        return key;
      },
      {
        algorithms: [settings.algorithm],
        issuer: settings.issuer,
        ...(settings.audience === undefined ? {} : { audience: settings.audience }),
        typ: ACCESS_TOKEN_TYP,
        clockTolerance: settings.clockSkewSeconds,
        currentDate: now,
        requiredClaims: ['sub', 'jti', 'exp', 'iat'],
      },
    ));
  } catch (error) {
    throw toVerificationError(error);
  }
  const { sub, sid, jti, username, exp, iat, aud, client_id: clientId } = payload;
  if (
    typeof sub !== 'string' ||
    !/^\d{1,15}$/.test(sub) ||
    typeof sid !== 'string' ||
    typeof jti !== 'string' ||
    typeof username !== 'string' ||
    typeof exp !== 'number' ||
    typeof iat !== 'number' ||
    typeof clientId !== 'string' ||
    aud === undefined
  ) {
    throw new TokenVerificationError('claims');
  }
  return { sub, sid, jti, username, exp, iat, aud, clientId };
}

function toVerificationError(error: unknown): TokenVerificationError {
  if (error instanceof TokenVerificationError) return error;
  if (error instanceof joseErrors.JWTExpired) return new TokenVerificationError('expired', { cause: error });
  if (error instanceof joseErrors.JWTClaimValidationFailed) return new TokenVerificationError('claims', { cause: error });
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new TokenVerificationError('signature', { cause: error });
  }
  // JWSInvalid, JWTInvalid, JOSEAlgNotAllowed, JOSENotSupported, bad base64...: all malformed.
  return new TokenVerificationError('malformed', { cause: error });
}
