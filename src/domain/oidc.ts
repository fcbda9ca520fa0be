/**
 * OpenID Connect rules that need no I/O: scopes, PKCE, redirect URIs, prompt and the
 * authentication context. The service applies them in the order the specs ask.
 */
import { hash } from 'node:crypto';

/** The scopes Gatehouse understands (OpenID Connect Core §5.4, §11). */
export const SUPPORTED_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;
export type Scope = (typeof SUPPORTED_SCOPES)[number];

export const isSupportedScope = (s: string): s is Scope => (SUPPORTED_SCOPES as readonly string[]).includes(s);

/** RFC 6749 §3.3: space-delimited, order irrelevant; duplicates collapse. */
export function parseScope(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(value.split(' ').filter((s) => s !== ''))];
}

export const formatScope = (scopes: readonly string[]): string => scopes.join(' ');

/** RFC 7636 §4.1: 43-128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** The S256 challenge: base64url(SHA-256(verifier)), 43 characters without padding. */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export const isValidCodeChallenge = (challenge: string): boolean => CHALLENGE.test(challenge);

/** RFC 7636 §4.6 with S256, the only method Gatehouse accepts (`plain` is refused at /authorize). */
export function pkceMatches(verifier: string | undefined, challenge: string): boolean {
  if (verifier === undefined || !VERIFIER.test(verifier)) return false;
  return hash('sha256', verifier, 'base64url') === challenge;
}

/**
 * A registered redirect URI: absolute, no fragment (RFC 6749 §3.1.2), https or http on a
 * loopback host (RFC 8252 §7.3 for native apps and development), or a private-use scheme
 * with a dot (RFC 8252 §7.1). Returns why it is refused, or undefined.
 */
export function redirectUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URI';
  }
  if (url.hash !== '' || uri.includes('#')) return 'must not contain a fragment';
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') return isLoopback(url.hostname) ? undefined : 'must use https (http only for localhost)';
  if (/^(javascript|data|file|vbscript|blob):$/i.test(url.protocol)) return `must not use ${url.protocol}`;
  return url.protocol.slice(0, -1).includes('.') ? undefined : 'a private-use scheme must be a reverse domain name (com.example.app:)';
}

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]' || hostname === '::1';
}

/** Exact string comparison (OAuth 2.1 §2.3.1, RFC 9700 §4.1.3): no prefix, no normalisation. */
export const redirectUriRegistered = (registered: readonly string[], presented: string): boolean => registered.includes(presented);

export type Prompt = 'none' | 'login' | 'consent';

/**
 * OpenID Connect Core §3.1.2.1: `prompt` is a space-separated list; `none` stands alone;
 * `select_account` is not offered (one account per browser session) and is refused.
 */
export function parsePrompt(value: string | undefined): { ok: true; prompts: Set<Prompt> } | { ok: false; reason: string } {
  const items = parseScope(value);
  const prompts = new Set<Prompt>();
  for (const item of items) {
    if (item !== 'none' && item !== 'login' && item !== 'consent') return { ok: false, reason: `prompt=${item} is not supported` };
    prompts.add(item);
  }
  if (prompts.has('none') && prompts.size > 1) return { ok: false, reason: 'prompt=none cannot be combined with other values' };
  return { ok: true, prompts };
}

/**
 * The authentication context class Gatehouse reports: a password alone is level 1, a
 * second factor level 2. Sent in the id token when the client asked (acr_values).
 */
export function acrFor(amr: readonly string[]): string {
  return amr.includes('mfa') ? 'urn:gatehouse:acr:mfa' : 'urn:gatehouse:acr:pwd';
}

/** Scopes granted: asked for, registered for the client, and understood here. */
export function grantableScopes(requested: readonly string[], registered: readonly string[]): string[] {
  return requested.filter((s) => isSupportedScope(s) && registered.includes(s));
}
