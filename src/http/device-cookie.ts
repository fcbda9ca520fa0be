/** The device token's cookie: HttpOnly, sent back only to the password-login routes. */
import type { FastifyReply, FastifyRequest } from 'fastify';

export const DEVICE_COOKIE = 'gatehouse_device';

/** The device token a login presents: the body field wins over the cookie. */
export function presentedDeviceToken(request: FastifyRequest, fromBody: string | undefined): string | undefined {
  if (fromBody !== undefined && fromBody !== '') return fromBody;
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === DEVICE_COOKIE) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Path=/ because both /login and /oauth/token read it; SameSite=Strict because no
 * cross-site request has any business logging in; Secure whenever PUBLIC_URL is https.
 */
export function setDeviceCookie(reply: FastifyReply, token: string, maxAgeSeconds: number, secure: boolean): void {
  reply.header('set-cookie', `${DEVICE_COOKIE}=${token}; Max-Age=${maxAgeSeconds}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`);
}
