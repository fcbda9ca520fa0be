/**
 * One per-IP budget for every password check: `/login` and the password grant of
 * `/oauth/token` draw from the same count (RATE_LIMIT_LOGIN_PER_MINUTE), so offering a
 * guess on two routes does not double it (the hosted `/signin` page too). The refresh and
 * authorization_code grants of `/oauth/token` share a budget of their own
 * (RATE_LIMIT_REFRESH_PER_MINUTE). One hook instance, hence one store,
 * serves both routes: @fastify/rate-limit gives every route configuration a store of its
 * own, which is exactly what must not happen here.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { clientKey } from './client-ip.js';

/**
 * Grants that check no password: the refresh grant, and the authorization_code grant (an
 * app's server exchanges every user's code from one address; the password was checked,
 * and counted, at the hosted sign-in page).
 */
const isRefreshGrant = (request: FastifyRequest): boolean => {
  const grantType = (request.body as { grant_type?: unknown } | undefined)?.grant_type;
  return grantType === 'refresh_token' || grantType === 'authorization_code';
};

/** The hook: onRequest on /login, preHandler on /oauth/token (it reads the grant type). */
export function passwordCheckLimit(app: FastifyInstance, limits: Readonly<Config['rateLimit']>) {
  return app.rateLimit({
    max: (request) => (isRefreshGrant(request) ? limits.refreshPerMinute : limits.loginPerMinute),
    timeWindow: 60_000,
    keyGenerator: (request) => `${isRefreshGrant(request) ? 'refresh-grant' : 'password'}|${clientKey(request.ip)}`,
  });
}

export type PasswordCheckLimit = ReturnType<typeof passwordCheckLimit>;
