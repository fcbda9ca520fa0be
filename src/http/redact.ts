/** What request logs may show: never a token, password or Authorization header. */
import type { FastifyRequest } from 'fastify';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.confirm_password',
  '*.current_password',
  '*.new_password',
  '*.refresh_token',
  '*.access_token',
  '*.token',
  '*.client_secret',
];

/**
 * Query strings may carry the deprecated `?refresh_token=` (and anything a client puts
 * there). Every value is masked, whatever its name: names can be percent-encoded
 * (`refresh%5Ftoken`) and still be accepted, so no list of names is safe.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const names = [...new URLSearchParams(url.slice(q + 1)).keys()];
  if (names.length === 0) return url.slice(0, q);
  return `${url.slice(0, q)}?${names.map((n) => `${encodeURIComponent(n)}=[redacted]`).join('&')}`;
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
