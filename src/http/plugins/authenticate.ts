/** Bearer authentication (RFC 6750): parses the header, then the service verifies and checks revocation. */
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Principal } from '../../domain/types.js';
import { AppError } from '../../errors/index.js';
import type { AuthService } from '../../services/auth-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (header === undefined || header === '') {
    throw new AppError('missing_token', 'Send the access token as "Authorization: Bearer <token>"');
  }
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!match) {
    throw new AppError('invalid_token', 'The Authorization header must be "Bearer <token>"', {
      bearerError: 'invalid_request',
    });
  }
  return match[1]!;
}

export function authenticate(auth: AuthService): onRequestAsyncHookHandler {
  return async function (request: FastifyRequest, _reply: FastifyReply) {
    request.principal = await auth.authenticate(bearerToken(request));
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route is missing the authenticate hook');
  return request.principal;
}
