/**
 * The HTTP server: services from the composition root (composition.ts), wired into
 * Fastify. Registration order is deliberate (see comments).
 */
import cors from '@fastify/cors';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:http';
import pino, { type DestinationStream } from 'pino';
import type { Config } from './config/index.js';
import { AppError } from './errors/index.js';
import { clientKey } from './http/client-ip.js';
import docs from './http/plugins/docs.js';
import errors, { loggable } from './http/plugins/errors.js';
import metricsPlugin, { Metrics } from './http/plugins/metrics.js';
import securityHeaders from './http/plugins/security-headers.js';
import { lazyChildLogger } from './http/lazy-request-logger.js';
import { logSerializers, REDACT_PATHS } from './http/redact.js';
import accountRoutes from './http/routes/account.js';
import authRoutes from './http/routes/auth.js';
import emailRoutes from './http/routes/email.js';
import mfaRoutes from './http/routes/mfa.js';
import oauthRoutes from './http/routes/oauth.js';
import oidcRoutes from './http/routes/oidc.js';
import opsRoutes from './http/routes/ops.js';
import revocationRoutes from './http/routes/revocations.js';
import { passwordCheckLimit } from './http/password-rate-limit.js';
import { rejectNul } from './http/reject-nul.js';
import type { Dependency } from './http/routes/ops.js';
import { buildServices, type ServiceLog, type Services } from './composition.js';
import { systemClock, type Clock, type Stores } from './services/ports.js';
import type { AccountService } from './services/account-service.js';
import type { AuthService } from './services/auth-service.js';
import type { ClientRegistry } from './services/client-registry.js';
import type { EmailFlows } from './services/email-flows.js';
import type { MfaService } from './services/mfa-service.js';
import type { KeyRing } from './services/key-ring.js';
import type { KeyRings } from './services/key-rings.js';
import type { OidcService } from './services/oidc/oidc-service.js';
import { registerClient } from './services/oidc/registration.js';
import type { RegistrationService } from './services/registration.js';
import { redisRouteStore } from './storage/rate-limit/route-store.js';
import type { RevocationFeed } from './services/revocation-feed.js';
import { pingRedis } from './storage/redis/client.js';

export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

export interface Gatehouse {
  app: FastifyInstance;
  stores: Stores;
  keys: KeyRing;
  keyRings: KeyRings;
  oidc: OidcService;
  auth: AuthService;
  mfa: MfaService;
  registration: RegistrationService;
  account: AccountService;
  clients: ClientRegistry;
  emailFlows: EmailFlows | undefined;
  revocationFeed: RevocationFeed;
  metrics: Metrics;
  config: Readonly<Config>;
  services: Services;
}

export interface BuildOptions {
  stores?: Stores;
  clock?: Clock;
  /** Where JSON log lines go (tests capture them); stdout by default. */
  logStream?: DestinationStream;
}

export async function buildGatehouse(config: Readonly<Config>, options: BuildOptions = {}): Promise<Gatehouse> {
  // Log lines are written asynchronously (batched while a write is in flight), not with a
  // blocking write per request; the buffer is flushed on close. A kill -9 can lose the
  // last lines, never a database write.
  const logDestination = options.logStream ? undefined : pino.destination({ dest: 1, sync: false });
  const fastifyOptions: FastifyServerOptions = {
    logger: {
      level: config.logLevel,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: logSerializers,
      stream: options.logStream ?? logDestination,
    } as FastifyServerOptions['logger'],
    trustProxy: config.http.trustProxy,
    bodyLimit: config.http.bodyLimitBytes,
    // Slow clients cannot hold a request open: headers must arrive within 10 s and the
    // whole request within 30 s (checked every second, not Node's default 30 s); an idle
    // socket closes after 75 s, past the 72 s keep-alive that load balancers (60 s) expect.
    connectionTimeout: config.http.idleTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: Math.min(72_000, config.http.idleTimeoutMs),
    maxRequestsPerSocket: 10_000,
    routerOptions: { maxParamLength: 200 },
    // One line per request, written in onResponse below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLogger,
    return503OnClosing: true,
    ajv: {
      // Unknown fields are rejected, never silently dropped; no type coercion of bodies.
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, useDefaults: false },
    },
  };
  // Fastify hands `http` to http.createServer; its typings only know it on the HTTP/1 generic.
  const httpServerOptions: ServerOptions = { headersTimeout: config.http.headersTimeoutMs, connectionsCheckingInterval: 1_000 };
  const app: FastifyInstance = Fastify({ ...fastifyOptions, http: httpServerOptions } as FastifyServerOptions);

  const metrics = new Metrics();
  const log: ServiceLog = {
    failure: (level, err, message) => app.log[level]({ err: loggable(err) }, message),
    developmentMail: (fields, message) => app.log.warn(fields, message),
  };
  const services = await buildServices(config, {
    stores: options.stores,
    clock: options.clock ?? systemClock,
    log,
    observers: [metrics],
    server: true,
  });
  try {
    return await registerHttp(app, services, metrics, options.logStream, logDestination);
  } catch (error) {
    await services.close();
    throw error;
  }
}

async function registerHttp(
  app: FastifyInstance,
  services: Services,
  metrics: Metrics,
  logStream: DestinationStream | undefined,
  logDestination: ReturnType<typeof pino.destination> | undefined,
): Promise<Gatehouse> {
  const { config, stores, redis, keys, keyRings, oidc, auth, registration, account, mfa, passkeys, clients, emailFlows, revocationFeed, clock } = services;
  const redisConfig = config.redis;
  await keys.init();
  // The ID-token algorithms registered clients chose (RS256 by default); any other is made
  // at its first ID token. A deployment without OpenID Connect clients publishes no extra key.
  await keyRings.init([...new Set((await stores.clients.list()).filter((c) => c.redirectUris.length > 0).map((c) => c.idTokenAlg))]);
  if (config.keyEncryption.key === undefined && config.nodeEnv === 'production') {
    app.log.warn(`signing keys are sealed under the key file ${config.keyEncryption.file}: keep it out of database backups, and set KEY_ENCRYPTION_KEY (the same on every instance) instead`);
  }
  if (config.http.trustProxy === true) {
    // Fastify then takes the leftmost X-Forwarded-For address, which the client writes:
    // per-IP limits and lockouts count whatever address an attacker claims.
    app.log.warn('TRUST_PROXY=true believes the leftmost X-Forwarded-For address, which any client can write; set TRUST_PROXY to your proxies\' addresses or CIDRs');
  }
  if (config.legacy) {
    const until = config.legacy.until ? `until ${config.legacy.until.toISOString()}` : 'with no end date (set LEGACY_TOKENS_UNTIL)';
    app.log.warn(`transition mode: tokens of the original service are accepted ${until}`);
  }
  if (!passkeys) app.log.warn(`passkeys are off: ${config.publicUrl} is an IP address, which browsers refuse; set WEBAUTHN_RP_ID`);

  app.decorate('publicPath', config.publicPath);
  // Errors first, so every plugin below answers failures as problem details.
  await app.register(errors);
  // Before any schema runs: a NUL is refused alike on both databases (see reject-nul.ts).
  app.addHook('preValidation', rejectNul);
  await app.register(securityHeaders);
  // One access line per request. Its fields are chosen by logSerializers.req (no headers,
  // every query value masked), so it skips the redaction pass that every other line gets:
  // on a cached-token GET /me that pass alone cost a tenth of the request (profiled).
  // Same destination, same line shape (level, time, pid, hostname, reqId) as app.log.
  const accessLog = pino({ level: config.logLevel }, logStream ?? logDestination);
  // Hooks on every request take a callback, not an async function: no promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    accessLog.info(
      { reqId: request.id, req: logSerializers.req(request), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
      'request',
    );
    done();
  });
  if (config.http.corsOrigins.length > 0) {
    // Credentials only for cookie mode (REFRESH_TOKEN_COOKIE): the refresh cookie is the one credential a browser sends by itself.
    await app.register(cors, { origin: config.http.corsOrigins, credentials: config.refresh.cookie, maxAge: 600 });
  }
  await app.register(formbody, { bodyLimit: config.http.bodyLimitBytes });
  // Only JSON and forms are spoken here; anything else is 415, not a string to validate.
  app.removeContentTypeParser('text/plain');
  // An empty body sent as application/json is no body, as an empty form is: HTTP wrappers set
  // the header on a bodyless POST /logout. Fastify's parser refuses it outright (400 "could not
  // be parsed"); now routes whose body is optional take it, and the others answer 400 from
  // their schema. Every other body goes to Fastify's parser (secure-json-parse, the same
  // __proto__ and constructor checks).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = String(body); // parseAs: 'string' hands a string; the typings allow a Buffer
    if (text === '') done(null, undefined);
    else parseJson(request, text, done);
  });
  await app.register(rateLimit, {
    global: false,
    ...(redis && redisConfig ? { store: redisRouteStore(redis, `${redisConfig.keyPrefix}ip:`) } : {}),
    // Fail closed by default: a limiter that cannot count answers 503 (see errors plugin).
    skipOnError: config.rateLimit.failOpen,
    enableDraftSpec: true,
    keyGenerator: (request) => clientKey(request.ip),
    errorResponseBuilder: (_request, context) =>
      new AppError('rate_limited', `Too many requests; retry in ${context.after}`, {
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
      }),
  });
  const passwordLimit = passwordCheckLimit(app, config.rateLimit);
  await app.register(metricsPlugin, { metrics });
  await app.register(docs, { config, version: VERSION });
  await app.register(authRoutes, {
    auth,
    registration,
    emailFlows: config.email.verifyOnRegister ? emailFlows : undefined,
    config,
    passwordLimit,
  });
  if (emailFlows) await app.register(emailRoutes, { auth, emailFlows, config });
  await app.register(accountRoutes, { auth, account });
  await app.register(mfaRoutes, { auth, mfa, passkeys, config, passwordLimit });
  await app.register(oauthRoutes, { auth, mfa, oidc, clients, config, passwordLimit });
  await app.register(oidcRoutes, {
    auth,
    oidc,
    config,
    forgotPasswordUrl: undefined,
    registerClient: (metadata) => registerClient(clients, clock, metadata),
    passwordLimit,
  });
  await app.register(revocationRoutes, { feed: revocationFeed, clients });
  const dependencies: Dependency[] = [{ name: 'database', check: () => stores.ping() }];
  if (redis) dependencies.push({ name: 'redis', check: () => pingRedis(redis) });
  await app.register(opsRoutes, { dependencies, keys, metrics, metricsToken: config.http.metricsToken, jwks: () => keyRings.jwks(), publicPath: config.publicPath });

  // Hourly: drop revocation records past their tokens' expiry, and sessions a day after
  // they expired or were revoked (the day keeps them visible for investigation).
  const pruner = setInterval(() => {
    const now = clock.now();
    const dayAgo = new Date(now.getTime() - 86_400_000);
    // A refresh token's hash is kept until the token expires, rotated or not (SECURITY.md).
    Promise.all([
      stores.sessions.prune(dayAgo),
      stores.revokedTokens.prune(now),
      stores.emailTokens.prune(dayAgo),
      stores.mfa.prune(now),
      stores.oidc.prune(dayAgo),
      revocationFeed.prune(),
    ]).catch(
      (err: unknown) => app.log.warn({ err: loggable(err) }, 'pruning expired sessions failed'),
    );
  }, 3_600_000);
  pruner.unref();
  app.addHook('onClose', async () => {
    clearInterval(pruner);
    await services.close();
    logDestination?.flushSync();
  });

  await app.ready();
  return { app, stores, keys, keyRings, auth, mfa, oidc, registration, account, clients, emailFlows, revocationFeed, metrics, config, services };
}
