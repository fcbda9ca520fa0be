/** What several route files share: accepted body types, the bearer security list, small hooks. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ClientContext } from '../services/auth-service.js';
import { clientKey } from './client-ip.js';

/** Bodies Gatehouse's own endpoints accept, JSON first (the OpenAPI document lists it first). */
export const FORM_AND_JSON = ['application/json', 'application/x-www-form-urlencoded'];

/** The OAuth endpoints' bodies: form encoding first, as RFC 6749 defines them; JSON too. */
export const OAUTH_FORM_AND_JSON = ['application/x-www-form-urlencoded', 'application/json'];

/** OpenAPI security of routes that take an access token (either scheme in the document). */
export const BEARER_SECURITY: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { OAuth2PasswordBearer: [] }];

/** Who is calling, as the services record it: the address (after TRUST_PROXY), its rate-limit key, the user agent. */
export function clientContext(request: FastifyRequest): ClientContext {
  const ua = request.headers['user-agent'];
  return { ip: request.ip, ipKey: clientKey(request.ip), userAgent: typeof ua === 'string' ? ua : null };
}

/** RFC 6749 §5.1: token responses must not be cached. */
export function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/** preValidation for bodies that may be omitted entirely: they are validated as `{}`. */
export async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  request.body ??= {};
}
