/** Signing-key material: generation, import, and the public half for the JWKS. */
import { createHash, createPrivateKey, createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { SigningAlgorithm } from '../config/index.js';

export type AsymmetricAlgorithm = Exclude<SigningAlgorithm, 'HS256'>;

export interface GeneratedKey {
  kid: string;
  alg: AsymmetricAlgorithm;
  publicJwk: JWK;
  privateJwk: JWK;
}

/**
 * What crypto/jwt.ts signs and verifies with: node:crypto key objects, imported once when
 * the key ring loads a key (never per request).
 */
export type VerifyKey = KeyObject;
export type SignKey = KeyObject;

/** RFC 7638 thumbprint-like kid: stable, derived from the public key, reveals nothing. */
function kidFor(publicJwk: JWK): string {
  return createHash('sha256').update(JSON.stringify(publicJwk)).digest('base64url').slice(0, 16);
}

export async function generateSigningKey(alg: AsymmetricAlgorithm): Promise<GeneratedKey> {
  const options = alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : alg === 'RS256' ? { modulusLength: 2048, extractable: true } : { extractable: true };
  const { publicKey, privateKey } = await generateKeyPair(alg, options);
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = kidFor(publicJwk);
  return {
    kid,
    alg,
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    privateJwk: { ...privateJwk, kid, alg },
  };
}

/** jose checks that the JWK is a key for `alg`; node:crypto holds it for signing. */
export async function importSigningKey(privateJwk: JWK, alg: AsymmetricAlgorithm): Promise<SignKey> {
  await importJWK(privateJwk, alg);
  return createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' });
}

export async function importVerifyKey(publicJwk: JWK, alg: AsymmetricAlgorithm): Promise<VerifyKey> {
  const publicOnly = publicJwkOf(publicJwk);
  await importJWK(publicOnly, alg);
  return createPublicKey({ key: publicOnly as JsonWebKey, format: 'jwk' });
}

/** The fields a JWKS may carry; never `d`, `p`, `q`... of a private key. */
export function publicJwkOf(jwk: JWK): JWK {
  const { kty, crv, x, y, n, e, kid, alg, use } = jwk;
  return Object.fromEntries(
    Object.entries({ kty, crv, x, y, n, e, kid, alg, use }).filter(([, v]) => v !== undefined),
  ) as JWK;
}

export function hmacKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}
