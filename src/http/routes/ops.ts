/** Operations: health, readiness, metrics, the OpenAPI document and the JWKS. */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { JWKS_MAX_AGE_SECONDS, JWKS_STALE_SECONDS, type KeyRing } from '../../services/key-ring.js';
import { AppError } from '../../errors/index.js';
import { hashToken } from '../../crypto/random.js';
import { isLoopbackAddress } from '../client-ip.js';
import type { Metrics } from '../plugins/metrics.js';
import { problems } from '../schemas/common.js';

/** Something /readyz checks: the database always, Redis when configured. */
export interface Dependency {
  name: string;
  check: () => Promise<void>;
}

export interface OpsRoutesOptions {
  dependencies: Dependency[];
  keys: KeyRing;
  /** Every algorithm's keys (access tokens and OpenID Connect ID tokens); `keys.jwks` when absent. */
  jwks?: () => Promise<{ keys: object[] }>;
  metrics: Metrics;
  /** METRICS_TOKEN: a Bearer token that opens /metrics; without it, loopback clients only. */
  metricsToken: string | undefined;
  /** PUBLIC_URL's path ('' at the root): where `/` sends the browser. */
  publicPath?: string;
}

/**
 * Metrics tell an attacker how many logins fail and lock, and when: they are for the
 * operator. With a token, it is required from everyone; without one, both the peer and
 * the client address (after TRUST_PROXY) must be this machine, so a reverse proxy on the
 * same host does not open them to the world.
 */
function metricsGuard(token: string | undefined) {
  const expected = token === undefined ? undefined : Buffer.from(hashToken(token));
  return async (request: FastifyRequest) => {
    if (expected) {
      const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
      const presented = Buffer.from(hashToken(match?.[1] ?? ''));
      if (!match || !timingSafeEqual(presented, expected)) throw new AppError('missing_token', 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>"');
      return;
    }
    if (!isLoopbackAddress(request.socket.remoteAddress ?? '') || !isLoopbackAddress(request.ip)) {
      throw new AppError('forbidden', 'Metrics are served to loopback clients only; set METRICS_TOKEN to read them from elsewhere');
    }
  };
}

const READY_CHECK_TIMEOUT_MS = 2_000;

function withTimeout(check: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), READY_CHECK_TIMEOUT_MS);
    check().then(
      () => (clearTimeout(timer), resolve()),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}

const Jwk = Type.Object(
  Object.fromEntries(['kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg', 'use'].map((k) => [k, Type.Optional(Type.String())])),
  { description: 'A public JSON Web Key' },
);

const Check = Type.Object({ status: Type.Union([Type.Literal('ok'), Type.Literal('error')]) });

export default async function opsRoutes(instance: FastifyInstance, opts: OpsRoutesOptions) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { dependencies, keys, metrics, metricsToken } = opts;

  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect(`${opts.publicPath ?? ''}/docs`));

  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process is up',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: every dependency answers',
        response: {
          200: Type.Object({ status: Type.Literal('ok'), checks: Type.Record(Type.String(), Check) }),
          503: Type.Object({ status: Type.Literal('error'), checks: Type.Record(Type.String(), Check) }),
        },
      },
    },
    async (_request, reply) => {
      const results = await Promise.all(
        dependencies.map(async ({ name, check }) => {
          const status = await withTimeout(check).then(
            () => 'ok' as const,
            () => 'error' as const,
          );
          return [name, { status }] as const;
        }),
      );
      const ok = results.every(([, r]) => r.status === 'ok');
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'error', checks: Object.fromEntries(results) });
    },
  );

  app.get(
    '/metrics',
    {
      onRequest: metricsGuard(metricsToken),
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text format)',
        description: 'With METRICS_TOKEN set, send it as a Bearer token; without it, only loopback clients are answered.',
        produces: ['text/plain'],
        security: [{ metricsToken: [] }],
        response: { 200: Type.String(), ...problems(401, 403) },
      },
    },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );

  app.get(
    '/openapi.json',
    {
      schema: {
        tags: ['operations'],
        summary: 'This OpenAPI 3.1 document',
        response: {
          200: Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, description: 'OpenAPI 3.1' }),
        },
      },
    },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );

  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['standards'],
        summary: 'Public signing keys (RFC 7517)',
        description: 'Every key that may have signed a live access token or ID token. With ALGORITHM=HS256 only the OpenID Connect ID-token keys (404 until an OpenID Connect client exists).',
        response: {
          200: Type.Object({ keys: Type.Array(Jwk) }),
          ...problems(404),
        },
      },
    },
    async (_request, reply) => {
      const set = opts.jwks ? await opts.jwks() : await keys.jwks();
      // With HS256 only ID-token keys (OpenID Connect) are public; without them there is nothing.
      if (keys.isSymmetric && set.keys.length === 0) throw new AppError('not_found', 'ALGORITHM=HS256 publishes no keys');
      // Short enough that a rotation reaches resource servers quickly, long enough to spare
      // us; a rotated-in key signs only once this has run out (KeyRing.rotate).
      reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}, stale-while-revalidate=${JWKS_STALE_SECONDS}`);
      return set as { keys: Record<string, string>[] };
    },
  );
}
