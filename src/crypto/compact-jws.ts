/**
 * JWS compact serialisation is three unpadded base64url parts (RFC 7515 §2, §7.1), and
 * each byte string has exactly one such spelling. Decoders are lenient (jose's and
 * Buffer's skip whitespace and padding, and ignore the unused low bits of the last
 * character), so one signed token has many spellings that all verify. Anything keyed on
 * the token string (revocation of original tokens, caches) must see one of them only:
 * every token is refused unless it is in its canonical spelling, before it is verified.
 */

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** True when `part` is non-empty, unpadded base64url that re-encodes to itself. */
export function isCanonicalBase64url(part: string): boolean {
  // A length of 4n+1 characters cannot encode whole bytes.
  if (!BASE64URL.test(part) || part.length % 4 === 1) return false;
  return Buffer.from(part, 'base64url').toString('base64url') === part;
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
