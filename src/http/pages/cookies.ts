/**
 * The hosted pages' two cookies: the sign-in cookie (the single sign-on session's secret)
 * and the CSRF cookie (double submit: each form carries the same value in `csrf_token`,
 * which a page of another site can neither read nor set). Both HttpOnly, SameSite=Lax,
 * Secure, and `__Host-` prefixed over https; over http only on a loopback PUBLIC_URL
 * (development), where browsers allow it, do they go without Secure.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomSecret } from '../../crypto/random.js';
import { isLoopback } from '../../domain/oidc.js';

export interface CookieSettings {
  secure: boolean;
  sessionName: string;
  csrfName: string;
  sessionMaxAgeSeconds: number;
}

export function cookieSettings(publicUrl: string, sessionMaxAgeSeconds: number): CookieSettings {
  const url = new URL(publicUrl);
  const https = url.protocol === 'https:';
  const secure = https || !isLoopback(url.hostname);
  // __Host- requires Secure and Path=/ with no Domain: the cookie cannot be planted by a sibling host.
  const prefix = https ? '__Host-' : '';
  return { secure, sessionName: `${prefix}gatehouse_session`, csrfName: `${prefix}gatehouse_csrf`, sessionMaxAgeSeconds };
}

export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function serialise(name: string, value: string, settings: CookieSettings, maxAgeSeconds: number | undefined): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (settings.secure) parts.push('Secure');
  if (maxAgeSeconds !== undefined) parts.push(`Max-Age=${maxAgeSeconds}`);
  return parts.join('; ');
}

function addCookie(reply: FastifyReply, cookie: string): void {
  // Fastify appends to the cookies already set (re-sending them would repeat each one).
  reply.header('set-cookie', cookie);
}

export function setSessionCookie(reply: FastifyReply, settings: CookieSettings, token: string): void {
  addCookie(reply, serialise(settings.sessionName, token, settings, settings.sessionMaxAgeSeconds));
}

export function clearSessionCookie(reply: FastifyReply, settings: CookieSettings): void {
  addCookie(reply, serialise(settings.sessionName, '', settings, 0));
}

const CSRF_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** The CSRF token for the forms of this page, set as a cookie when the browser has none yet. */
export function csrfToken(request: FastifyRequest, reply: FastifyReply, settings: CookieSettings): string {
  const current = readCookie(request, settings.csrfName);
  if (current !== undefined && CSRF_FORMAT.test(current)) return current;
  const token = randomSecret(32);
  addCookie(reply, serialise(settings.csrfName, token, settings, undefined));
  return token;
}

/**
 * A form post is ours when its `csrf_token` equals the cookie and, when the browser says
 * where it comes from (Origin), that is our origin.
 */
export function csrfValid(request: FastifyRequest, settings: CookieSettings, submitted: string | undefined, publicOrigin: string): boolean {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== publicOrigin) return false;
  const cookie = readCookie(request, settings.csrfName);
  if (cookie === undefined || submitted === undefined || !CSRF_FORMAT.test(cookie)) return false;
  const a = Buffer.from(cookie);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}
