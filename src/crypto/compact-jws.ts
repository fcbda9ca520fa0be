/**
 * JWS compact serialisation is three unpadded base64url parts (RFC 7515 §2, §7.1), and
 * each byte string has exactly one such spelling. Decoders are lenient (jose's and
 * Buffer's skip whitespace and padding, and ignore the unused low bits of the last
 * character), so one signed token has many spellings that all verify. Anything keyed on
 * the token string (revocation of original tokens, caches) must see one of them only:
 * every token is refused unless it is in its canonical spelling, before it is verified.
 */

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Each base64url character's 6-bit value, by char code (only read for checked characters). */
const SEXTET = new Uint8Array(128);
for (let i = 0; i < ALPHABET.length; i++) SEXTET[ALPHABET.charCodeAt(i)] = i;

/**
 * True when `part` is non-empty, unpadded base64url that re-encodes to itself (what
 * `Buffer.from(part, 'base64url').toString('base64url') === part` says, which the unit test
 * checks; this runs on every token not seen before, without decoding it). A part of 4n
 * characters always does; 4n+1 cannot encode whole bytes; of 4n+2 the last character holds
 * 2 bits of data and 4 unused, of 4n+3 4 bits and 2 unused, and re-encoding writes the
 * unused bits as zeros.
 */
export function isCanonicalBase64url(part: string): boolean {
  const tail = part.length % 4;
  if (tail === 1 || !BASE64URL.test(part)) return false;
  if (tail === 0) return true;
  const unused = tail === 2 ? 0b1111 : 0b11;
  return (SEXTET[part.charCodeAt(part.length - 1)]! & unused) === 0;
}

/** The three parts of a token in canonical compact form, or undefined for anything else. */
export function canonicalJwsParts(token: string): [string, string, string] | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  if (!isCanonicalBase64url(header) || !isCanonicalBase64url(payload) || !isCanonicalBase64url(signature)) return undefined;
  return [header, payload, signature];
}

/**
 * The canonical spelling of a token that may be written leniently (a blacklisted token as
 * another system stored it): each part decoded as a lenient decoder would, re-encoded.
 */
export function canonicalizeJws(token: string): string {
  return token
    .split('.')
    .map((part) => Buffer.from(part.replace(/\s+/g, '').replace(/=+$/, ''), 'base64url').toString('base64url'))
    .join('.');
}
