/**
 * The OpenAPI 3.1 document (generated from the same TypeBox schemas that validate and
 * serialise) and Swagger UI at /docs, whose Authorize dialog runs the OAuth2 password
 * flow against /login.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config/index.js';
import { Problem } from '../schemas/common.js';
import { OAuthError } from '../schemas/oauth.js';

export default fp(
  async function docs(app: FastifyInstance, opts: { config: Readonly<Config>; version: string }) {
    app.addSchema(Problem);
    app.addSchema(OAuthError);
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Gatehouse',
          version: opts.version,
          description:
            'Authentication server: register, log in, rotate refresh tokens, revoke sessions. ' +
            'Errors are RFC 9457 problem details; token endpoints answer with Cache-Control: no-store.',
        },
        // Without an explicit PUBLIC_URL the page calls the origin it was loaded from, so
        // http://localhost:8000/docs works as well as http://127.0.0.1:8000/docs.
        servers: [{ url: opts.config.publicUrlExplicit ? opts.config.publicUrl : '/' }],
        tags: [
          { name: 'auth', description: 'The original service\'s endpoints' },
          { name: 'account', description: 'Sessions and account management' },
          { name: 'standards', description: 'OAuth 2.0 and JOSE standard endpoints' },
          { name: 'operations', description: 'Health, readiness, metrics, this document' },
        ],
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
            clientBasic: { type: 'http', scheme: 'basic', description: 'A confidential client: its id and secret' },
            metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN (without it, /metrics answers loopback clients only)' },
            OAuth2PasswordBearer: {
              type: 'oauth2',
              description: 'Username (or email) and password; client_id may be left empty.',
              flows: { password: { tokenUrl: '/login', refreshUrl: '/refresh', scopes: {} } },
            },
          },
        },
      },
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
    });
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: true,
      uiConfig: { persistAuthorization: false, tryItOutEnabled: true, displayRequestDuration: true },
    });
  },
  { name: 'gatehouse-docs' },
);
