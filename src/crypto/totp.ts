/**
 * TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) through `otpauth`, a kept
 * library, rather than HOTP by hand. What is ours is only which step a code belongs to:
 * the replay guard refuses a step once it has been used.
 */
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';

export const TOTP_PERIOD_SECONDS = 30;
/** One step either side (RFC 6238 §5.2): clocks drift, people type slowly. */
export const TOTP_WINDOW = 1;

function totp(secret: Buffer, label = '', issuer = ''): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD_SECONDS,
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
  });
}

/** 160 bits, the HMAC-SHA-1 key length RFC 4226 §4 recommends. */
export function newTotpSecret(): Buffer {
  return randomBytes(20);
}

export function base32(secret: Buffer): string {
  return new Secret({ buffer: Uint8Array.from(secret).buffer }).base32;
}

/** The `otpauth://totp/...` URI authenticator apps read from a QR code. */
export function otpauthUri(secret: Buffer, issuer: string, account: string): string {
  return totp(secret, account, issuer).toString();
}

/**
 * The time step the code was generated for (within one step of `now`), or undefined.
 * A malformed code is simply no match.
 */
export function matchingStep(secret: Buffer, code: string, now: Date): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const timestamp = now.getTime();
  const delta = totp(secret).validate({ token: code, timestamp, window: TOTP_WINDOW });
  if (delta === null) return undefined;
  return Math.floor(timestamp / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

/** For tests and the bench: the code for a moment. */
export function totpCode(secret: Buffer, at: Date): string {
  return totp(secret).generate({ timestamp: at.getTime() });
}
