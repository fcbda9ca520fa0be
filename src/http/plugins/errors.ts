/**
 * One error handler: every failure leaves as an RFC 9457 problem. 4xx say what was wrong;
 * 5xx say nothing about why (the cause goes to the log only).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { AppError, ERRORS, problemType, type ErrorCode, type FieldError } from '../../errors/index.js';
import { isDependencyUnavailable } from '../../errors/unavailable.js';

interface ValidationIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

function fieldOf(issue: ValidationIssue): string {
  const path = (issue.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  const extra = issue.params?.additionalProperty ?? issue.params?.missingProperty;
  if (typeof extra === 'string') return path ? `${path}.${extra}` : extra;
  return path || '(body)';
}

function messageOf(issue: ValidationIssue): string {
  if (issue.keyword === 'additionalProperties') return 'is not an accepted field';
  if (issue.keyword === 'required') return 'is required';
  return issue.message ?? 'is invalid';
}

/**
 * What of an internal error may be logged. Drizzle's query errors carry the bound
 * parameters (password hashes, token hashes) in their message: log the driver's cause
 * (code, message, stack) instead, never the parameters.
 */
export function loggable(error: unknown): Record<string, unknown> {
  let e: unknown = error;
  while (e instanceof Error && e.cause instanceof Error && /^Failed query/.test(e.message)) e = e.cause;
  if (!(e instanceof Error)) return { message: String(e) };
  const { code } = e as { code?: unknown };
  return { type: e.name, message: e.message, ...(typeof code === 'string' ? { code } : {}), stack: e.stack };
}

export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.status === 401) {
    const params = ['realm="gatehouse"'];
    if (error.extra.bearerError) {
      params.push(`error="${error.extra.bearerError}"`, `error_description="${error.detail.replace(/"/g, "'")}"`);
    }
    reply.header('www-authenticate', `Bearer ${params.join(', ')}`);
  }
  if (error.extra.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.extra.retryAfterSeconds));
  const body: Record<string, unknown> = {
    type: problemType(error.code),
    title: error.title,
    status: error.status,
    detail: error.detail,
    code: error.code,
  };
  if (error.extra.errors) body.errors = error.extra.errors;
  if (error.extra.members) Object.assign(body, error.extra.members);
  return reply.code(error.status).type('application/problem+json').send(body);
}

function codeForStatus(status: number): ErrorCode {
  const match = (Object.keys(ERRORS) as ErrorCode[]).find((code) => ERRORS[code].status === status);
  return match ?? (status >= 500 ? 'internal_error' : 'validation_failed');
}

/** Translates framework errors (validation, body parsing, limits) into AppErrors. */
export function toAppError(error: FastifyError | Error): AppError {
  if (error instanceof AppError) return error;
  const fe = error as FastifyError;
  if (fe.validation) {
    const errors: FieldError[] = (fe.validation as ValidationIssue[]).map((issue) => ({
      field: fieldOf(issue),
      message: messageOf(issue),
    }));
    return new AppError('validation_failed', 'The request has invalid fields', { errors });
  }
  const status = fe.statusCode ?? 500;
  if (status === 413) return new AppError('payload_too_large', 'The request body is larger than this server accepts');
  if (status === 415) return new AppError('unsupported_media_type', 'Send application/json or application/x-www-form-urlencoded');
  if (status === 400) {
    // validation_failed always names what failed (contract: `errors` on validation failures).
    const unparsed = fe.code?.startsWith('FST_ERR_CTP') || error instanceof SyntaxError;
    return new AppError('validation_failed', unparsed ? 'The request body could not be parsed' : 'The request is malformed', {
      errors: [{ field: '(body)', message: unparsed ? 'is not valid for its Content-Type' : 'is malformed' }],
    });
  }
  if (status === 503) return new AppError('service_unavailable', 'A dependency is unavailable; try again shortly');
  if (status >= 500 && isDependencyUnavailable(error)) {
    return new AppError('service_unavailable', 'A dependency is unavailable; try again shortly', {
      retryAfterSeconds: 5,
      cause: error,
    });
  }
  if (status >= 400 && status < 500) {
    const code = codeForStatus(status);
    return new AppError(code, ERRORS[code].title, { cause: error });
  }
  return new AppError('internal_error', 'Something went wrong on our side', { cause: error });
}

/** Not OPTIONS: with CORS_ORIGINS every path answers it (a preflight), which says nothing of the path. */
const ALLOW_CANDIDATES: HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

export default fp(
  async function errorHandling(app: FastifyInstance) {
    app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const appError = toAppError(error);
      if (appError.code === 'service_unavailable') request.log.warn({ err: loggable(error) }, 'dependency unavailable');
      else if (appError.status >= 500) request.log.error({ err: loggable(error) }, 'request failed');
      else request.log.info({ code: appError.code }, 'request refused');
      return sendProblem(reply, appError);
    });
    // RFC 9110 §15.5.6: a path that exists under other methods is 405 with Allow, not 404.
    // A shadow of the route table (Fastify's router answers one method at a time), asked
    // only when no route matched.
    const routes = FindMyWay({ maxParamLength: 200 });
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        if (routes.find(method as HTTPMethod, route.url) === null) routes.on(method as HTTPMethod, route.url, () => {});
      }
    });
    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0]!;
      const allowed = ALLOW_CANDIDATES.filter((method) => routes.find(method, path) !== null);
      // A route that exists for this method sent us here itself (a static file not found).
      if (allowed.length > 0 && !allowed.includes(request.method as HTTPMethod)) {
        reply.header('allow', allowed.join(', '));
        return sendProblem(reply, new AppError('method_not_allowed', `${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`));
      }
      return sendProblem(reply, new AppError('not_found', `No route for ${request.method} ${path}`));
    });
  },
  { name: 'gatehouse-errors' },
);
