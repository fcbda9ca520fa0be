/** Operations: health, readiness, metrics, the OpenAPI document and the JWKS. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { KeyRing } from '../../services/key-ring.js';
import { AppError } from '../../errors/index.js';
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
  const { dependencies, keys, metrics } = opts;

  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/docs'));

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
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text format)',
        produces: ['text/plain'],
        response: { 200: Type.String() },
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
        description: 'Every key that may have signed a live access token. Not published with ALGORITHM=HS256.',
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
      // Short enough that a rotation reaches resource servers quickly, long enough to spare us.
      reply.header('cache-control', 'public, max-age=300, stale-while-revalidate=60');
      return set as { keys: Record<string, string>[] };
    },
  );
}
