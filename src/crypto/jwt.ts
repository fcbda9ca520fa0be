/**
 * Access tokens: RFC 9068 JWTs in JWS compact form. Verification pins the algorithm,
 * issuer, audience and `typ`, so `alg:none`, an HMAC made with a public key, or a token
 * for someone else all fail. Failures are typed, never swallowed into `null`.
 *
 * Why node:crypto here and not jose's SignJWT/jwtVerify: every authenticated request with
 * a token not seen before pays for one verification, and every login or refresh for one
 * signature. jose (v6) goes through WebCrypto, whose per-call argument normalisation and
 * promise plumbing cost more than the Ed25519 operation itself on this hardware (measured:
 * jwtVerify ~280-320 µs against ~160-200 µs for the bare operation, docs/performance.md).
 * The signature work itself runs on libuv's thread pool (the callback forms of
 * `crypto.sign`/`crypto.verify`), so the event loop only parses and checks claims.
 * jose still generates, imports and exports the keys and serves the JWKS; the tests check
 * every token this module signs with jose's jwtVerify, and every refusal jose would make.
 */
import { createHmac, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from '../config/index.js';
import type { AccessClaims } from '../domain/types.js';
import { canonicalJwsParts } from './compact-jws.js';
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

/** The digest each JWS algorithm signs with (RFC 7518 §3.1); Ed25519 hashes internally. */
const DIGEST: Record<SigningAlgorithm, string | null> = { EdDSA: null, ES256: 'sha256', RS256: 'sha256', HS256: 'sha256' };

/** ES256 signatures are R || S (RFC 7518 §3.4), not OpenSSL's DER. */
function keyInput(alg: SigningAlgorithm, key: KeyObject) {
  return alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
}

function signBytes(alg: SigningAlgorithm, key: SignKey, data: Buffer): Promise<Buffer> {
  if (alg === 'HS256') return Promise.resolve(createHmac('sha256', key).update(data).digest());
  return new Promise((resolve, reject) => {
    cryptoSign(DIGEST[alg], data, keyInput(alg, key), (error, signature) => (error ? reject(error) : resolve(signature)));
  });
}

function verifyBytes(alg: SigningAlgorithm, key: VerifyKey, data: Buffer, signature: Buffer): Promise<boolean> {
  if (alg === 'HS256') {
    const expected = createHmac('sha256', key).update(data).digest();
    return Promise.resolve(expected.length === signature.length && timingSafeEqual(expected, signature));
  }
  return new Promise((resolve) => {
    // An error (a key of the wrong type, a malformed signature) is a failed check.
    cryptoVerify(DIGEST[alg], data, keyInput(alg, key), signature, (error, ok) => resolve(!error && ok));
  });
}

const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export async function signAccessToken(
  claims: Omit<AccessClaims, 'exp' | 'iat' | 'aud' | 'clientId'> & { clientId: string; audience: string },
  key: { kid: string; key: SignKey },
  settings: Omit<TokenSettings, 'audience'>,
  now: Date,
  ttlSeconds: number,
): Promise<{ token: string; exp: number }> {
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + ttlSeconds;
  const payload = encode({
    sid: claims.sid,
    username: claims.username,
    client_id: claims.clientId,
    iss: settings.issuer,
    aud: claims.audience,
    sub: claims.sub,
    jti: claims.jti,
    iat,
    exp,
    ...(claims.authTime !== undefined ? { auth_time: claims.authTime } : {}),
    ...(claims.amr !== undefined ? { amr: claims.amr } : {}),
    ...(claims.scope === undefined ? {} : { scope: claims.scope }),
  });
  return { token: await signCompact(settings.algorithm, key, ACCESS_TOKEN_TYP, payload), exp };
}

async function signCompact(alg: SigningAlgorithm, key: { kid: string; key: SignKey }, typ: string, encodedPayload: string): Promise<string> {
  const signingInput = `${encode({ alg, kid: key.kid, typ })}.${encodedPayload}`;
  const signature = await signBytes(alg, key.key, Buffer.from(signingInput));
  return `${signingInput}.${signature.toString('base64url')}`;
}

/**
 * Any other JWT Gatehouse signs (ID tokens, logout tokens): header `{alg, kid, typ}` and
 * the claims as given, as jose's SignJWT would make it, through the same node:crypto path
 * (one per authorization-code exchange, where jose's WebCrypto plumbing was measurable).
 */
export function signJwt(alg: SigningAlgorithm, key: { kid: string; key: SignKey }, typ: string, claims: Record<string, unknown>): Promise<string> {
  return signCompact(alg, key, typ, encode(claims));
}

/** Resolves a verification key by `kid`; undefined when the kid is unknown. */
export type KeyResolver = (kid: string | undefined) => Promise<VerifyKey | undefined>;

/** A base64url part that decodes to a JSON object, or undefined. */
function jsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 8725 §3.11 / RFC 9068 §4: `typ` is `at+jwt`, with or without `application/`. */
function isAccessTokenTyp(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  return t === ACCESS_TOKEN_TYP || t === `application/${ACCESS_TOKEN_TYP}`;
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

export async function verifyAccessToken(
  token: string,
  resolveKey: KeyResolver,
  settings: TokenSettings,
  now: Date,
): Promise<AccessClaims> {
  // Only the one canonical spelling: `token + '='` or other low bits in the last character
  // would otherwise verify as second spellings of the same token.
  const parts = canonicalJwsParts(token);
  if (!parts) throw new TokenVerificationError('malformed');
  const [encodedHeaderPart, encodedPayload, encodedSignature] = parts;

  // The header decides nothing but which of our keys to try: the algorithm is pinned,
  // and anything that asks for processing we do not do (crit, b64, embedded keys) is out.
  const header = jsonObject(encodedHeaderPart);
  if (!header || header.alg !== settings.algorithm || 'crit' in header || 'b64' in header) {
    throw new TokenVerificationError('malformed');
  }
  if (header.kid !== undefined && typeof header.kid !== 'string') throw new TokenVerificationError('malformed');
  const key = await resolveKey(header.kid);
  if (!key) throw new TokenVerificationError('unknown_key');
  const signature = Buffer.from(encodedSignature, 'base64url');
  const signed = await verifyBytes(settings.algorithm, key, Buffer.from(`${encodedHeaderPart}.${encodedPayload}`), signature);
  if (!signed) throw new TokenVerificationError('signature');

  // Claims only once the signature holds: nothing unauthenticated is looked at further.
  const payload = jsonObject(encodedPayload);
  if (!payload) throw new TokenVerificationError('malformed');
  if (!isAccessTokenTyp(header.typ)) throw new TokenVerificationError('claims');
  const { sub, sid, jti, username, exp, iat, nbf, iss, aud, client_id: clientId, auth_time: authTime, amr, scope } = payload;
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const skew = settings.clockSkewSeconds;
  if (iss !== settings.issuer) throw new TokenVerificationError('claims');
  if (typeof aud !== 'string' && !(Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string'))) {
    throw new TokenVerificationError('claims');
  }
  if (settings.audience !== undefined && (typeof aud === 'string' ? aud !== settings.audience : !aud.includes(settings.audience))) {
    throw new TokenVerificationError('claims');
  }
  if (nbf !== undefined && (!isNumber(nbf) || nbf > nowSeconds + skew)) throw new TokenVerificationError('claims');
  if (!isNumber(exp) || !isNumber(iat)) throw new TokenVerificationError('claims');
  if (exp <= nowSeconds - skew) throw new TokenVerificationError('expired');
  if (
    typeof sub !== 'string' ||
    !/^\d{1,15}$/.test(sub) ||
    typeof sid !== 'string' ||
    typeof jti !== 'string' ||
    typeof username !== 'string' ||
    typeof clientId !== 'string' ||
    (scope !== undefined && typeof scope !== 'string')
  ) {
    throw new TokenVerificationError('claims');
  }
  if (authTime !== undefined && !isNumber(authTime)) throw new TokenVerificationError('claims');
  if (amr !== undefined && !(Array.isArray(amr) && amr.every((m) => typeof m === 'string'))) throw new TokenVerificationError('claims');
  return {
    sub,
    sid,
    jti,
    username,
    exp,
    iat,
    aud: aud as string | string[],
    clientId,
    ...(authTime !== undefined ? { authTime } : {}),
    ...(amr !== undefined ? { amr: amr as AccessClaims['amr'] & string[] } : {}),
    ...(scope === undefined ? {} : { scope }),
  };
}
