/**
 * Cookie mode for refresh tokens (REFRESH_TOKEN_COOKIE=true), for browser apps that want
 * the refresh token out of JavaScript's reach. A request opts in with the header
 * `X-Gatehouse-CSRF: 1`: then /login and /refresh put the refresh token in an `HttpOnly;
 * Secure; SameSite=Strict` cookie scoped to /refresh (and leave it out of the body), and
 * /refresh reads the cookie when the body has no token. CSRF: the cookie is only ever
 * accepted together with that custom header, which a cross-site form or image cannot send
 * and a cross-site fetch can send only after a CORS preflight that CORS_ORIGINS allows;
 * SameSite=Strict keeps the cookie off cross-site requests in the first place.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export const REFRESH_COOKIE = 'gatehouse_refresh';
export const CSRF_HEADER = 'x-gatehouse-csrf';

/** The request asked for cookie mode (and proved it is no cross-site form): header `X-Gatehouse-CSRF: 1`. */
export function hasCsrfHeader(request: FastifyRequest): boolean {
  return request.headers[CSRF_HEADER] === '1';
}

export function readRefreshCookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === REFRESH_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

/**
 * Refresh tokens are `ghr_` + base64url: nothing to escape in a cookie value. The path is
 * /refresh under PUBLIC_URL's path (`publicPath`), where the browser sends the request.
 */
export function setRefreshCookie(reply: FastifyReply, token: string, maxAgeSeconds: number, publicPath: string): void {
  reply.header('set-cookie', `${REFRESH_COOKIE}=${token}; Path=${publicPath}/refresh; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`);
}

export function clearRefreshCookie(reply: FastifyReply, publicPath: string): void {
  reply.header('set-cookie', `${REFRESH_COOKIE}=; Path=${publicPath}/refresh; Max-Age=0; HttpOnly; Secure; SameSite=Strict`);
}
