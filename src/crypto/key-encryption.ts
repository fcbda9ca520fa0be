/**
 * Private signing keys at rest: AES-256-GCM under a key-encryption key (KEK) that does not
 * live in the database, with the key id as associated data, so a database backup alone
 * mints nothing, and a sealed key moved to another row does not open.
 *
 * The KEK comes from KEY_ENCRYPTION_KEY, or else from a key file made on first start
 * (32 random bytes, mode 0600) beside the SQLite database (PostgreSQL: ./data/gatehouse.key).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JWK } from 'jose';

/** A private JWK as stored: its JSON, encrypted. */
export interface SealedJwk {
  enc: 'A256GCM';
  iv: string;
  ct: string;
  tag: string;
}

export function isSealed(value: unknown): value is SealedJwk {
  const v = value as Partial<SealedJwk> | null;
  return typeof v === 'object' && v !== null && v.enc === 'A256GCM' && typeof v.iv === 'string' && typeof v.ct === 'string' && typeof v.tag === 'string';
}

export function sealJwk(kek: Buffer, kid: string, jwk: JWK): SealedJwk {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(`gatehouse signing key ${kid}`));
  const ct = Buffer.concat([cipher.update(JSON.stringify(jwk), 'utf8'), cipher.final()]);
  return { enc: 'A256GCM', iv: iv.toString('base64url'), ct: ct.toString('base64url'), tag: cipher.getAuthTag().toString('base64url') };
}

/** Throws when the KEK is not the one it was sealed with, the kid differs, or anything was altered. */
export function openJwk(kek: Buffer, kid: string, sealed: SealedJwk): JWK {
  const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(sealed.iv, 'base64url'));
  decipher.setAAD(Buffer.from(`gatehouse signing key ${kid}`));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64url'));
  try {
    return JSON.parse(Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64url')), decipher.final()]).toString('utf8')) as JWK;
  } catch (error) {
    throw new Error(`signing key ${kid} does not open with this key-encryption key (KEY_ENCRYPTION_KEY or the key file): wrong key, or altered`, { cause: error });
  }
}

/** KEY_ENCRYPTION_KEY: 32 bytes as base64, base64url or hex; undefined for anything else. */
export function parseKek(text: string): Buffer | undefined {
  const t = text.trim();
  if (/^[0-9a-f]{64}$/i.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const bytes = Buffer.from(t.replace(/\+/g, '-').replace(/\//g, '_').replace(/=$/, ''), 'base64url');
    return bytes.length === 32 ? bytes : undefined;
  }
  return undefined;
}

/**
 * The key file's KEK, made (32 random bytes, 0600, never overwritten) when it is not there
 * yet. Written to a private temporary file first and linked into place: a link appears
 * whole and fails when the name exists, so of two processes starting at once one makes the
 * file and the other reads it complete (a plain 'wx' create let the second read it empty).
 */
export function keyFileKek(file: string): Buffer {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  const kek = parseKek(readFileSync(file, 'utf8'));
  if (!kek) throw new Error(`${file}: not a key-encryption key (32 bytes, base64url)`);
  return kek;
}
