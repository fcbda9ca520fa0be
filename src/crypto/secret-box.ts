/**
 * Secrets at rest (TOTP seeds) sealed with AES-256-GCM under the key-encryption key
 * (KEY_ENCRYPTION_KEY or the key file, the same key as the signing keys': composition.ts).
 * The row id is bound in as associated data, so a sealed value copied onto another row
 * does not open. Format: `v1.<iv>.<ciphertext+tag>` (base64url).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

export function seal(key: Buffer, plaintext: Buffer, associatedData: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

/** Throws SecretBoxError for a wrong key, a tampered value or another row's value. */
export function open(key: Buffer, sealed: string, associatedData: string): Buffer {
  const [version, ivPart, bodyPart] = sealed.split('.');
  if (version !== VERSION || ivPart === undefined || bodyPart === undefined) throw new SecretBoxError('unknown sealed format');
  const iv = Buffer.from(ivPart, 'base64url');
  const body = Buffer.from(bodyPart, 'base64url');
  if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new SecretBoxError('malformed sealed value');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new SecretBoxError('sealed value does not open under this key');
  }
}
