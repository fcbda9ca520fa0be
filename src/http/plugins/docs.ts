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
import { emptyBodyAsObject } from '../route-helpers.js';
import { Problem } from '../schemas/common.js';
import { addWireConventions, openApiPath, type OpenApiDocument } from './openapi-wire.js';
import { OAuthError } from '../schemas/oauth.js';

/** The hosted pages' mark and name, white on the top bar. */
const DOCS_LOGO = `<svg xmlns="http://www.w3.org/2000/svg" width="190" height="36" viewBox="0 0 190 36"><rect x="2" y="2" width="32" height="32" rx="8" fill="#ffffff"/><path d="M11 29V18l7-6 7 6v11h-5v-6h-4v6z" fill="#1d4ed8"/><text x="44" y="25" font-family="system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif" font-size="20" font-weight="600" fill="#ffffff">Gatehouse</text></svg>`;

const DOCS_CSS = `.swagger-ui .topbar { background-color: #1d4ed8; }
.swagger-ui .topbar .download-url-wrapper .download-url-button { background: #1e40af; }
.swagger-ui .info .title { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
.swagger-ui .btn.authorize { color: #1d4ed8; border-color: #1d4ed8; }
.swagger-ui .btn.authorize svg { fill: #1d4ed8; }`;

export default fp(
  async function docs(app: FastifyInstance, opts: { config: Readonly<Config>; version: string }) {
    app.addSchema(Problem);
    app.addSchema(OAuthError);
    // Routes registered from here on whose body may be left out (they take none as `{}`).
    const optionalBodies = new Set<string>();
    app.addHook('onRoute', (route) => {
      const hooks = [route.preValidation ?? []].flat();
      if (!hooks.includes(emptyBodyAsObject)) return;
      for (const method of [route.method].flat()) optionalBodies.add(`${method.toLowerCase()} ${openApiPath(route.url)}`);
    });
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
          { name: 'openid', description: 'OpenID Connect provider: discovery, authorization, hosted pages, userinfo, logout' },
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
              flows: { password: { tokenUrl: `${opts.config.publicPath}/login`, refreshUrl: `${opts.config.publicPath}/refresh`, scopes: {} } },
            },
          },
        },
      },
      transformObject: (documentObject) =>
        'openapiObject' in documentObject ? addWireConventions(documentObject.openapiObject as OpenApiDocument, optionalBodies) : documentObject.swaggerObject,
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
    });
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      // Its page links its scripts and styles under PUBLIC_URL's path (behind a proxy).
      ...(opts.config.publicPath === '' ? {} : { indexPrefix: opts.config.publicPath }),
      staticCSP: true,
      // Gatehouse's name and colours (those of the hosted pages), not the framework's logo.
      theme: { title: 'Gatehouse API', css: [{ filename: 'gatehouse.css', content: DOCS_CSS }] },
      logo: { type: 'image/svg+xml', content: Buffer.from(DOCS_LOGO), href: `${opts.config.publicPath}/docs`, target: '_self' },
      uiConfig: { persistAuthorization: false, tryItOutEnabled: true, displayRequestDuration: true },
    });
  },
  { name: 'gatehouse-docs' },
);
