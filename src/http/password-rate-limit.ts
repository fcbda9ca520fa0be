/**
 * One per-IP budget for every password check: `/login` and the password grant of
 * `/oauth/token` draw from the same count (RATE_LIMIT_LOGIN_PER_MINUTE), so offering a
 * guess on two routes does not double it. The refresh grant of `/oauth/token` has a
 * budget of its own (RATE_LIMIT_REFRESH_PER_MINUTE). One hook instance, hence one store,
 * serves both routes: @fastify/rate-limit gives every route configuration a store of its
 * own, which is exactly what must not happen here.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { clientKey } from './client-ip.js';

const isRefreshGrant = (request: FastifyRequest): boolean =>
  (request.body as { grant_type?: unknown } | undefined)?.grant_type === 'refresh_token';

/** The hook: onRequest on /login, preHandler on /oauth/token (it reads the grant type). */
export function passwordCheckLimit(app: FastifyInstance, limits: Readonly<Config['rateLimit']>) {
  return app.rateLimit({
    max: (request) => (isRefreshGrant(request) ? limits.refreshPerMinute : limits.loginPerMinute),
    timeWindow: 60_000,
    keyGenerator: (request) => `${isRefreshGrant(request) ? 'refresh-grant' : 'password'}|${clientKey(request.ip)}`,
  });
}

export type PasswordCheckLimit = ReturnType<typeof passwordCheckLimit>;
