/**
 * What the route schemas cannot say, added to the OpenAPI document once it is built: the
 * headers the contract's conventions put on responses (WWW-Authenticate on 401,
 * Retry-After and the RateLimit headers on 429, Cache-Control on token responses,
 * Location on redirects), that a redirect has no body, and which request bodies may be
 * left out. Rules over the whole document, so a new route gets them without a word.
 */

interface HeaderObject {
  description: string;
  required?: boolean;
  schema: { type: 'string' | 'integer' };
}

interface ResponseObject {
  description?: string;
  content?: Record<string, { schema?: { properties?: Record<string, unknown> } }>;
  headers?: Record<string, HeaderObject>;
}

interface OperationObject {
  requestBody?: { required?: boolean };
  responses?: Record<string, ResponseObject>;
}

export interface OpenApiDocument {
  paths?: Record<string, Record<string, OperationObject>>;
}

const text = (description: string, required = false): HeaderObject => ({ description, ...(required ? { required } : {}), schema: { type: 'string' } });
const seconds = (description: string, required = false): HeaderObject => ({ description, ...(required ? { required } : {}), schema: { type: 'integer' } });

const BY_STATUS: Record<string, Record<string, HeaderObject>> = {
  '303': { Location: text('Where the browser goes next', true) },
  '401': { 'WWW-Authenticate': text('The challenge: `Bearer realm="gatehouse"`, with an RFC 6750 `error=` where one applies (`Basic` for client authentication)', true) },
  '429': {
    'Retry-After': seconds('Seconds to wait before trying again', true),
    'RateLimit-Limit': seconds('The per-client quota of the window (on rate-limited routes)'),
    'RateLimit-Remaining': seconds('What is left of it'),
    'RateLimit-Reset': seconds('Seconds until the window resets'),
  },
};

const NO_STORE = { 'Cache-Control': text('`no-store` (RFC 6749 §5.1): token responses are never cached', true) };

/** OpenAPI's `{id}` for Fastify's `:id`. */
export const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * Returns the document with the wire conventions written in. `optionalBodies` holds
 * `method path` (lower-case method, OpenAPI path) of routes that take no body as `{}`:
 * @fastify/swagger marks every request body required.
 */
export function addWireConventions<T extends OpenApiDocument>(document: T, optionalBodies: ReadonlySet<string>): T {
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      if (operation.requestBody && optionalBodies.has(`${method} ${path}`)) operation.requestBody.required = false;
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        // A redirect's only content is its Location.
        if (status === '303') delete response.content;
        const headers = { ...BY_STATUS[status] };
        const issuesTokens = status === '200' && Object.values(response.content ?? {}).some((media) => media.schema?.properties?.access_token !== undefined);
        if (issuesTokens) Object.assign(headers, NO_STORE);
        if (Object.keys(headers).length > 0) response.headers = { ...response.headers, ...headers };
      }
    }
  }
  return document;
}
