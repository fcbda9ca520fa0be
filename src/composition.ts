/**
 * The composition root: `buildServices(config)` builds the stores, keys and every use case
 * from the configuration. The HTTP server (app.ts) and every command (cli/commands/*)
 * build them here and only here, so a user created from the command line is audited like
 * one created over HTTP. Nothing here loads the HTTP stack: `gatehouse keys rotate` never
 * starts Fastify (test/cli-commands.test.ts checks the modules it loads).
 */
import type { Config } from './config/index.js';
import { PasswordHasher } from './crypto/password.js';
import { LogMailer, SmtpMailer } from './mail/mailers.js';
import { AccessTokens } from './services/access-tokens.js';
import { AccountService } from './services/account-service.js';
import { AuditTrail, Observers } from './services/audit.js';
import { AuthService } from './services/auth-service.js';
import { ClientRegistry } from './services/client-registry.js';
import { EmailFlows } from './services/email-flows.js';
import { JWKS_MAX_AGE_SECONDS, JWKS_STALE_SECONDS, KeyRing } from './services/key-ring.js';
import { KeyRings } from './services/key-rings.js';
import { SealedSigningKeyStore } from './services/sealed-signing-keys.js';
import { DEVICE_TOKEN_LIFETIME_SECONDS, DeviceTokens } from './services/device-tokens.js';
import { keyFileKek, parseKek } from './crypto/key-encryption.js';
import { IdTokens } from './services/oidc/id-tokens.js';
import { OidcService } from './services/oidc/oidc-service.js';
import { LegacyTokens } from './services/legacy-tokens.js';
import { LoginThrottle } from './services/login-throttle.js';
import { MfaChallengeIssuer, MfaService } from './services/mfa-service.js';
import { PasskeyService } from './services/passkeys.js';
import { systemClock, type AttemptLimiter, type AuthObserver, type Clock, type Mailer, type Stores } from './services/ports.js';
import { RegistrationService } from './services/registration.js';
import { RevocationFeed } from './services/revocation-feed.js';
import { openStores } from './storage/index.js';
import { DatabaseOtpReplayGuard, RedisOtpReplayGuard } from './storage/otp-replay.js';
import { FailOpenAttemptLimiter } from './storage/rate-limit/fail-open.js';
import { MemoryAttemptLimiter } from './storage/rate-limit/memory.js';
import { RedisAttemptLimiter } from './storage/rate-limit/redis.js';
import { closeRedis, connectRedis, type RedisClient } from './storage/redis/client.js';

/** Where services report what they survived; the server passes its logger, commands stderr. */
export interface ServiceLog {
  /** A failure a service recovered from (a rate-limit store down, a mail not delivered). */
  failure(level: 'warn' | 'error', error: unknown, message: string): void;
  /** Development mail (no SMTP_URL): the mail's text, so its link can be followed. */
  developmentMail(fields: Record<string, unknown>, message: string): void;
}

export interface BuildServicesOptions {
  /** Stores already open (tests); opened from config.database otherwise, and closed by close(). */
  stores?: Stores | undefined;
  clock?: Clock | undefined;
  log?: ServiceLog | undefined;
  /** Observers of security events besides the audit trail (the server's metrics). */
  observers?: AuthObserver[] | undefined;
  /**
   * A long-running server: SQLite checkpoints its WAL in the background, and the attempt
   * counters live in Redis when REDIS_URL is set. Commands count no login attempts, so
   * they neither connect to Redis nor start the checkpointer.
   */
  server?: boolean | undefined;
}

export interface Services {
  config: Readonly<Config>;
  clock: Clock;
  stores: Stores;
  /** The shared Redis client (server with REDIS_URL only): the HTTP rate limits use it too. */
  redis: RedisClient | undefined;
  /** Not loaded yet: call `keys.init()` before signing (the server does at start). */
  keys: KeyRing;
  /** Every signing algorithm in use (access tokens, ID tokens): the JWKS and `keys rotate`. */
  keyRings: KeyRings;
  oidc: OidcService;
  hasher: PasswordHasher;
  observer: AuthObserver;
  auth: AuthService;
  registration: RegistrationService;
  account: AccountService;
  mfa: MfaService;
  /** Undefined when PUBLIC_URL is a bare IP without WEBAUTHN_RP_ID (browsers refuse passkeys there). */
  passkeys: PasskeyService | undefined;
  clients: ClientRegistry;
  /** Undefined when EMAIL_FLOWS is off. */
  emailFlows: EmailFlows | undefined;
  /** The revocation feed's reader (GET /revocations/stream; pruned with the rest). */
  revocationFeed: RevocationFeed;
  /** Finishes queued mails, then closes the mailer, the stores and Redis. */
  close(): Promise<void>;
}

/** Margin for instances that have not re-read the key set yet (KeyRing reloads every 5 s). */
const KEY_RELOAD_MARGIN_MS = 60_000;

/** Beyond the JWKS cache lifetime before a rotated-in key signs: the key set's reload interval and then some. */
const KEY_ACTIVATION_MARGIN_MS = 15_000;

/** KEY_ENCRYPTION_KEY, or else the key file (made on first start, mode 0600). */
function keyEncryptionKey(config: Readonly<Config>): Buffer {
  const { key, file } = config.keyEncryption;
  return key !== undefined ? parseKek(key)! : keyFileKek(file);
}

const stderrLog: ServiceLog = {
  failure: (level, error, message) => console.error(`gatehouse: ${level}: ${message}: ${error instanceof Error ? error.message : String(error)}`),
  developmentMail: (fields, message) => console.error(message, JSON.stringify(fields)),
};

export async function buildServices(config: Readonly<Config>, options: BuildServicesOptions = {}): Promise<Services> {
  const server = options.server ?? false;
  const stores =
    options.stores ??
    (await openStores(config.database, {
      server,
      // Each revoked session's feed record keeps when its last access token expires.
      sessionRecordLifetimeMs: (config.jwt.accessTtlSeconds + config.jwt.clockSkewSeconds) * 1000,
    }));
  // With REDIS_URL every instance shares the limit counters; without it each counts its own.
  let redis: RedisClient | undefined;
  try {
    redis = server && config.redis ? await connectRedis(config.redis.url) : undefined;
    return wire(config, stores, redis, options);
  } catch (error) {
    await stores.close();
    if (redis) await closeRedis(redis);
    throw error;
  }
}

function wire(config: Readonly<Config>, stores: Stores, redis: RedisClient | undefined, options: BuildServicesOptions): Services {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? stderrLog;
  const redisConfig = config.redis;
  const attemptLimiter = (max: number, name: string, windowSeconds = config.rateLimit.lockoutWindowSeconds): AttemptLimiter => {
    const limiter =
      redis && redisConfig
        ? new RedisAttemptLimiter(redis, max, windowSeconds, `${redisConfig.keyPrefix}${name}:`)
        : new MemoryAttemptLimiter(max, windowSeconds, name);
    if (!config.rateLimit.failOpen) return limiter;
    return new FailOpenAttemptLimiter(limiter, (err) => log.failure('warn', err, 'rate-limit store unavailable; failing open'));
  };

  // Private keys sealed at rest under the key-encryption key (kept out of the database).
  // One key-encryption key seals the private signing keys and the TOTP seeds.
  const kek = keyEncryptionKey(config);
  const signingKeys = new SealedSigningKeyStore(stores.signingKeys, kek);
  // Retired keys verify for an access-token lifetime, the clock skew and the reload margin.
  // One ring per algorithm in use (ID tokens may use others than ALGORITHM), every one on
  // the same sealed store and with the same staged rotation: keys of every ring are sealed
  // under the one key-encryption key, published at once, and sign after the activation delay.
  const keyRing = (algorithm: Config['jwt']['algorithm']) =>
    new KeyRing({
      store: signingKeys,
      options: {
        algorithm,
        secretKey: algorithm === config.jwt.algorithm ? config.jwt.secretKey : undefined,
        retiredKeyLifetimeMs: (config.jwt.accessTtlSeconds + config.jwt.clockSkewSeconds) * 1000 + KEY_RELOAD_MARGIN_MS,
        // Resource servers (and relying parties) may hold the JWKS this long (HTTP caching; jose
        // refetches on an unknown kid only 30 s after its last fetch), and instances re-read keys every 5 s.
        activationDelayMs: (JWKS_MAX_AGE_SECONDS + JWKS_STALE_SECONDS) * 1000 + KEY_ACTIVATION_MARGIN_MS,
      },
      clock,
    });
  const keys = keyRing(config.jwt.algorithm);
  const keyRings = new KeyRings(keys, config.jwt.algorithm, keyRing);
  const throttle = new LoginThrottle(
    attemptLimiter(config.rateLimit.accountIpFailures, 'login-account-ip'),
    attemptLimiter(config.rateLimit.accountFailures, 'login-account'),
    // A known device gets the (account, IP) pair's budget, wherever it logs in from.
    attemptLimiter(config.rateLimit.accountIpFailures, 'login-device'),
  );
  const hasher = new PasswordHasher(config.password.argon2);
  const observer = new Observers(...(options.observers ?? []), new AuditTrail(stores.audit, clock));
  const policy = config.password;

  const mailer: Mailer | undefined = !config.email.enabled
    ? undefined
    : config.email.smtpUrl
      ? new SmtpMailer(config.email.smtpUrl, config.email.from)
      : new LogMailer((fields, message) => log.developmentMail(fields, message));
  const emailFlows = mailer
    ? new EmailFlows({
        stores,
        hasher,
        mailer,
        perAddress: attemptLimiter(config.email.perAddressPerHour, 'mail-address', 3600),
        observer,
        clock,
        options: {
          publicUrl: config.publicUrl,
          verifyTtlSeconds: config.email.verifyTokenTtlSeconds,
          resetTtlSeconds: config.email.resetTokenTtlSeconds,
          policy,
        },
        onDeliveryError: (err) => log.failure('error', err, 'mail delivery (or the work before it) failed'),
      })
    : undefined;

  const tokens = new AccessTokens({
    keys,
    sessions: stores.sessions,
    settings: {
      algorithm: config.jwt.algorithm,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      clockSkewSeconds: config.jwt.clockSkewSeconds,
      ttlSeconds: config.jwt.accessTtlSeconds,
      cacheSize: config.jwt.verifiedCacheSize,
    },
    clock,
  });
  const mfaGate = new MfaChallengeIssuer(stores, observer, clock, config.mfa.mfaTokenTtlSeconds);
  const auth = new AuthService({
    stores,
    hasher,
    tokens,
    throttle,
    devices: new DeviceTokens(signingKeys, clock, DEVICE_TOKEN_LIFETIME_SECONDS),
    observer,
    clock,
    options: {
      issuer: config.jwt.issuer,
      requireVerifiedEmail: config.email.requireVerified,
      refreshTtlSeconds: config.refresh.ttlSeconds,
      reuseGraceSeconds: config.refresh.reuseGraceSeconds,
      clockSkewSeconds: config.jwt.clockSkewSeconds,
    },
    legacy: config.legacy ? new LegacyTokens({ ...config.legacy, clockSkewSeconds: config.jwt.clockSkewSeconds }, clock) : undefined,
    mfaGate,
  });
  const account = new AccountService({ stores, hasher, throttle, policy, observer, clock });
  // A TOTP code used once is refused on every instance: Redis when shared, else the database.
  const replay =
    redis && redisConfig
      ? new RedisOtpReplayGuard(redis, `${redisConfig.keyPrefix}totp-used:`)
      : new DatabaseOtpReplayGuard();
  const mfa = new MfaService({
    stores,
    account,
    auth,
    throttle,
    replay,
    observer,
    clock,
    options: {
      issuerName: config.mfa.issuerName,
      // The one place the key-encryption key reaches the services (see crypto/secret-box.ts).
      keyEncryptionKey: kek,
      mfaTokenTtlSeconds: config.mfa.mfaTokenTtlSeconds,
      maxCodeAttempts: config.mfa.maxCodeAttempts,
    },
  });
  const webauthn = config.mfa.webauthn;
  const passkeys = webauthn
    ? new PasskeyService({
        stores,
        account,
        auth,
        mfa,
        observer,
        clock,
        options: { rpId: webauthn.rpId, rpName: config.mfa.issuerName, origins: webauthn.origins, challengeTtlSeconds: config.mfa.mfaTokenTtlSeconds },
      })
    : undefined;

  const clients = new ClientRegistry(stores.clients, async (alg) => void (await keyRings.idTokenRing(alg)));
  const oidc = new OidcService(stores, auth, clients, tokens, new IdTokens(keyRings, config.jwt.issuer, config.jwt.accessTtlSeconds, clock), observer, clock, {
    issuer: config.jwt.issuer,
    refreshTtlSeconds: config.refresh.ttlSeconds,
    // The hosted pages ask the same second factors as /login.
    secondFactor: {
      challenge: (user, login, client) => mfaGate.challenge(user, login, client),
      verify: (mfaToken, code, clientId, client) => mfa.verifySignInCode(mfaToken, code, clientId, client),
    },
    // Passkeys on the pages too (username-less, or as the second step), when the pages'
    // own origin can use them (not on the 127.0.0.1 development default: open localhost).
    passkeys:
      passkeys && webauthn && pagesMayUsePasskeys(config.publicUrl, webauthn)
        ? {
            options: (mfaToken, clientId) => passkeys.loginOptions(mfaToken, { id: clientId }),
            verify: (response, mfaToken, clientId, client) => passkeys.verifySignIn(response, mfaToken, clientId, client),
          }
        : undefined,
    sendBackchannelLogout: async (uri, logoutToken) => {
      const response = await fetch(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: logoutToken }),
        redirect: 'error',
        signal: AbortSignal.timeout(5_000),
      });
      if (!response.ok) log.failure('warn', new Error(`HTTP ${response.status}`), `back-channel logout refused by ${uri}`);
    },
  });

  return {
    config,
    clock,
    stores,
    redis,
    keys,
    keyRings,
    oidc,
    hasher,
    observer,
    auth,
    registration: new RegistrationService({ stores, hasher, policy, observer, clock }),
    account,
    mfa,
    passkeys,
    clients,
    emailFlows,
    // One shared poller per instance, every 200 ms while anyone listens.
    revocationFeed: new RevocationFeed(
      stores.revocations,
      clock,
      { accessTtlSeconds: config.jwt.accessTtlSeconds, clockSkewSeconds: config.jwt.clockSkewSeconds, pollMs: 200 },
      (error) => log.failure('warn', error, 'revocation feed poll failed'),
    ),
    async close() {
      // Mails accepted before the close still go out.
      await emailFlows?.drain();
      if (mailer instanceof SmtpMailer) mailer.close();
      await stores.close();
      if (redis) await closeRedis(redis);
    },
  };
}

/**
 * Whether the hosted pages, served at PUBLIC_URL, can run passkey ceremonies: a browser
 * allows them only where the RP id is the page's host or a parent domain of it, and the
 * server accepts them only from the configured origins. The 127.0.0.1 default has
 * passkeys for the API (RP id localhost) but not for pages served at the IP.
 */
export function pagesMayUsePasskeys(publicUrl: string, webauthn: { rpId: string; origins: string[] }): boolean {
  const url = new URL(publicUrl);
  const host = url.hostname.toLowerCase();
  const rpId = webauthn.rpId.toLowerCase();
  return (host === rpId || host.endsWith(`.${rpId}`)) && webauthn.origins.includes(url.origin);
}
