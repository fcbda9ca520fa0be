/** What request logs may show: never a token, password or Authorization header. */
import type { FastifyRequest } from 'fastify';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.refresh_token',
  '*.access_token',
];

const SECRET_PARAMS = /([?&](?:refresh_token|access_token|token|password|code)=)[^&#]*/gi;

/** Query strings may carry the deprecated `?refresh_token=`: mask its value. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]');
}

export const logSerializers = {
  req(request: FastifyRequest) {
    return {
      method: request.method,
      url: redactUrl(request.url),
      remoteAddress: request.ip,
      userAgent: request.headers['user-agent'],
    };
  },
};
