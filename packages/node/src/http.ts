/**
 * The verifier on an HTTP server: an Express-style middleware (Express, Connect, plain
 * node:http) and a Fastify plugin. Refusals carry the RFC 6750 / RFC 9470 challenge and a
 * problem-details body. Typed structurally: neither framework is a dependency.
 */
import { TokenError } from './errors.js';
import { applyGuards, type GuardOptions } from './guards.js';
import type { AccessTokenClaims, Verifier } from './verifier.js';

export interface AuthOptions extends GuardOptions {
  verifier: Verifier;
  /** The `realm` of the challenge. */
  realm?: string;
}

/** Verifies and guards one request; the claims, or the TokenError to answer with. */
export async function authorize(options: AuthOptions, authorization: string | undefined): Promise<AccessTokenClaims> {
  const claims = await options.verifier.authenticate(authorization);
  applyGuards(claims, options);
  return claims;
}

/** The response headers and body for a refusal. */
export function refusal(error: TokenError, realm?: string): { status: number; headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { 'content-type': 'application/problem+json', 'cache-control': 'no-store' };
  const challenge = error.wwwAuthenticate(realm);
  if (challenge) headers['www-authenticate'] = challenge;
  if (error.status === 503) headers['retry-after'] = '1';
  return { status: error.status, headers, body: JSON.stringify(error.problem()) };
}

interface NodeRequest {
  headers: { authorization?: string | undefined };
  auth?: AccessTokenClaims;
}
interface NodeResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

/** `app.use(expressAuth({ verifier }))`: sets `req.auth` to the claims, or answers 401/403/503. */
export function expressAuth(options: AuthOptions) {
  return (req: NodeRequest, res: NodeResponse, next: (error?: unknown) => void): void => {
    authorize(options, req.headers.authorization).then(
      (claims) => {
        req.auth = claims;
        next();
      },
      (error: unknown) => {
        if (!(error instanceof TokenError)) return next(error);
        const answer = refusal(error, options.realm);
        res.statusCode = answer.status;
        for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
        res.end(answer.body);
      },
    );
  };
}

interface FastifyLikeRequest {
  headers: { authorization?: string | undefined };
  auth?: AccessTokenClaims | null;
}
interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  headers(values: Record<string, string>): FastifyLikeReply;
  send(body: string): FastifyLikeReply;
}
interface FastifyLike {
  decorateRequest(name: string, value: null): unknown;
  hasRequestDecorator(name: string): boolean;
  addHook(name: 'onRequest', hook: (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<unknown>): unknown;
}

/** A Fastify onRequest hook for one route: `{ onRequest: fastifyGuard({ verifier, scopes: ['orders:read'] }) }`. */
export function fastifyGuard(options: AuthOptions) {
  return async (request: FastifyLikeRequest, reply: FastifyLikeReply): Promise<unknown> => {
    try {
      request.auth = await authorize(options, request.headers.authorization);
      return undefined;
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      const answer = refusal(error, options.realm);
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    }
  };
}

/**
 * `await app.register(fastifyAuth, { verifier })`: every route registered after it (in
 * this scope and its children) needs a valid token; `request.auth` holds the claims.
 */
export const fastifyAuth = Object.assign(
  async function gatehouseAuth(fastify: FastifyLike, options: AuthOptions): Promise<void> {
    if (!fastify.hasRequestDecorator('auth')) fastify.decorateRequest('auth', null);
    fastify.addHook('onRequest', fastifyGuard(options));
  },
  // As fastify-plugin does: the hook applies to the scope that registers it, not a child.
  { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: '@gatehouse/node' },
);
