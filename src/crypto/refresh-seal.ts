/**
 * Sealing a rotated refresh token's child under a key derived from the parent token.
 *
 * The grace window must hand back the *same* child to a replayed parent (two tabs that
 * refresh at once), yet refresh tokens are stored only as hashes. So at rotation the
 * child is encrypted (AES-256-GCM) with a key only the parent's holder can derive; the
 * database alone can open nothing.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

function keyFrom(parentToken: string): Buffer {
  return createHash('sha256').update('gatehouse/refresh-seal/v1\0').update(parentToken).digest();
}

export function sealChild(parentToken: string, childToken: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFrom(parentToken), iv);
  const body = Buffer.concat([cipher.update(childToken, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** Returns undefined when the seal was not made with this parent. */
export function openChild(parentToken: string, seal: string): string | undefined {
  try {
    const data = Buffer.from(seal, 'base64url');
    const iv = data.subarray(0, 12);
    const tag = data.subarray(data.length - 16);
    const body = data.subarray(12, data.length - 16);
    const decipher = createDecipheriv('aes-256-gcm', keyFrom(parentToken), iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
