/**
 * Configuration: environment (and `.env`) → validated, frozen Config.
 * One fixed pipeline: read → parse each section → cross-checks → freeze.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { ConfigError, int, list, str, type Env } from './env-parsers.js';
import { readSecretFiles } from './secret-files.js';
import { VARIABLES, read } from './variables.js';
import { parseKek } from '../crypto/key-encryption.js';

export { ConfigError } from './env-parsers.js';

export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256' | 'HS256';

export type DatabaseConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; poolSize: number };

export interface Config {
  nodeEnv: 'development' | 'production' | 'test';
  host: string;
  port: number;
  publicUrl: string;
  /** False when PUBLIC_URL was derived from HOST:PORT (then /docs calls relative URLs). */
  publicUrlExplicit: boolean;
  /**
   * PUBLIC_URL's path, '' at the root of its host (`https://example.com/auth` → '/auth'):
   * behind a reverse proxy that serves Gatehouse under a path and strips it, the links,
   * form actions, redirects and cookie paths the server writes start with it.
   */
  publicPath: string;
  logLevel: string;
  /** UV_THREADPOOL_SIZE, checked here; libuv reads the variable itself when its pool starts. */
  threadPoolSize: number;
  /** IDLE_HEAP_COLLECTION: hand the heap back after a load (runtime/idle-collection.ts). */
  idleHeapCollection: boolean;
  database: DatabaseConfig;
  /**
   * The key-encryption key of the private signing keys: KEY_ENCRYPTION_KEY (never logged),
   * or else the key file (made on first start, mode 0600).
   */
  keyEncryption: { key: string | undefined; file: string };
  /** Shared rate-limit counters for several instances; in-process counters when absent. */
  redis: { url: string; keyPrefix: string } | undefined;
  jwt: {
    algorithm: SigningAlgorithm;
    /** Only for HS256. Never logged. */
    secretKey: string | undefined;
    issuer: string;
    audience: string;
    accessTtlSeconds: number;
    /** Tolerated clock difference when verifying exp/iat. */
    clockSkewSeconds: number;
    /** Verified access tokens kept in memory (~0.5 KB each); 0 verifies every token anew. */
    verifiedCacheSize: number;
  };
  refresh: {
    ttlSeconds: number;
    reuseGraceSeconds: number;
    /** Cookie mode: on request (X-Gatehouse-CSRF: 1) the refresh token travels in an HttpOnly cookie. */
    cookie: boolean;
  };
  password: {
    minLength: number;
    maxLength: number;
    requireUppercase: boolean;
    requireLowercase: boolean;
    requireDigit: boolean;
    argon2: { memoryCost: number; timeCost: number; parallelism: number };
  };
  rateLimit: {
    loginPerMinute: number;
    registerPerHour: number;
    refreshPerMinute: number;
    /** Failed logins for one account from one client IP (tight). */
    accountIpFailures: number;
    /** Failed logins for one account from all IPs together (looser). */
    accountFailures: number;
    lockoutWindowSeconds: number;
    /** When Redis is down: false (default) answers 503 on limited routes; true skips the limits. */
    failOpen: boolean;
  };
  /** Transition mode: the original service's tokens stay valid until they expire. */
  legacy: {
    secretKey: string;
    algorithm: 'HS256' | 'HS384' | 'HS512';
    until: Date | undefined;
    accessTtlSeconds: number;
  } | undefined;
  email: {
    /** Off: no mail is ever sent, and the email endpoints answer 404. */
    enabled: boolean;
    /** smtp://user:pass@host:port or smtps://...; undefined in development logs the mail instead. */
    smtpUrl: string | undefined;
    from: string;
    verifyOnRegister: boolean;
    requireVerified: boolean;
    verifyTokenTtlSeconds: number;
    resetTokenTtlSeconds: number;
    /** Per client IP, on /password/forgot and /email/verify/request. */
    forgotPerHour: number;
    /** Mails to one address per hour, whatever the IP (beyond it requests are answered but not sent). */
    perAddressPerHour: number;
  };
  mfa: {
    /** The name authenticator apps and passkey prompts show. */
    issuerName: string;
    mfaTokenTtlSeconds: number;
    maxCodeAttempts: number;
    /** WebAuthn relying party; undefined when PUBLIC_URL is an IP that browsers refuse (passkeys off). */
    webauthn: { rpId: string; origins: string[] } | undefined;
  };
  /** OpenID Connect provider settings. */
  oidc: {
    /** RFC 7591 dynamic client registration at /oauth/register: off unless both are set. */
    dynamicRegistration: boolean;
    /** The initial access token a registration must present (Bearer). Never logged. */
    registrationToken: string | undefined;
  };
  http: {
    trustProxy: boolean | string[];
    corsOrigins: string[];
    bodyLimitBytes: number;
    /** Slow clients: headers must arrive within this, the whole request within the next. */
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    /** An idle (keep-alive) socket is closed after this. */
    idleTimeoutMs: number;
    /** Bearer token for GET /metrics; without one, only loopback clients may read it. Never logged. */
    metricsToken: string | undefined;
  };
}

function parseAlgorithm(env: Env): SigningAlgorithm {
  const value = str(env, 'ALGORITHM');
  if (value && ['ed25519', 'eddsa'].includes(value.toLowerCase())) return 'EdDSA';
  return read(env, 'ALGORITHM');
}

/** Accepts the original service's `file:./BOT.sqlite`, a bare path, or a postgres URL. */
function parseDatabase(env: Env, cwd: string): DatabaseConfig {
  const url = read(env, 'DATABASE_URL');
  if (/^postgres(ql)?:\/\//i.test(url)) {
    return { kind: 'postgres', url, poolSize: read(env, 'DATABASE_POOL_SIZE') };
  }
  let file = url;
  if (/^(file|sqlite):/i.test(file)) file = file.replace(/^(file|sqlite):(\/\/)?/i, '');
  file = file.split('?')[0] ?? '';
  if (file === '' || file === ':memory:') {
    throw new ConfigError('DATABASE_URL', 'expected file:<path>, a file path or postgres://...; in-memory databases lose every write');
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^(file|sqlite):/i.test(url)) {
    throw new ConfigError('DATABASE_URL', `unsupported scheme in "${url.split(':')[0]}:"; use file:<path> or postgres://`);
  }
  return { kind: 'sqlite', path: path.resolve(cwd, file) };
}

function parseLegacy(env: Env): Config['legacy'] {
  const secretKey = read(env, 'LEGACY_SECRET_KEY');
  if (secretKey === undefined) return undefined;
  // One secret for both would make every token of one kind a token of the other.
  if (secretKey === read(env, 'SECRET_KEY')) {
    throw new ConfigError('LEGACY_SECRET_KEY', 'must differ from SECRET_KEY (give Gatehouse a secret of its own)');
  }
  const untilText = read(env, 'LEGACY_TOKENS_UNTIL');
  let until: Date | undefined;
  if (untilText !== undefined) {
    until = new Date(untilText);
    if (Number.isNaN(until.getTime())) throw new ConfigError('LEGACY_TOKENS_UNTIL', `"${untilText}" is not an ISO 8601 date`);
  }
  return {
    secretKey,
    algorithm: read(env, 'LEGACY_ALGORITHM'),
    until,
    accessTtlSeconds: Math.round(read(env, 'LEGACY_ACCESS_TOKEN_EXPIRE_MINUTES') * 60),
  };
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

function parseEmail(env: Env, nodeEnv: Config['nodeEnv'], host: string): Config['email'] {
  const enabled = read(env, 'EMAIL_FLOWS');
  const smtpUrl = read(env, 'SMTP_URL');
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^\s]+$/i.test(smtpUrl)) {
    throw new ConfigError('SMTP_URL', 'expected smtp://[user:pass@]host:port or smtps://...');
  }
  if (enabled && smtpUrl === undefined && nodeEnv === 'production') {
    throw new ConfigError('SMTP_URL', 'required in production while EMAIL_FLOWS is on (set EMAIL_FLOWS=false to run without email)');
  }
  // Without SMTP the mails, live reset links included, go to the log: fine on a developer's
  // loopback server, a leak on one that others can reach (whatever NODE_ENV says).
  if (enabled && smtpUrl === undefined && !isLoopbackHost(host) && !read(env, 'MAIL_TO_LOG')) {
    throw new ConfigError('SMTP_URL', `required while EMAIL_FLOWS is on and HOST=${host} is not loopback (MAIL_TO_LOG=true logs the mails instead, live links included)`);
  }
  const requireVerified = read(env, 'REQUIRE_VERIFIED_EMAIL');
  if (requireVerified && !enabled) {
    throw new ConfigError('REQUIRE_VERIFIED_EMAIL', 'needs EMAIL_FLOWS on: nobody could ever verify');
  }
  return {
    enabled,
    smtpUrl,
    from: read(env, 'MAIL_FROM'),
    verifyOnRegister: read(env, 'EMAIL_VERIFY_ON_REGISTER'),
    requireVerified,
    verifyTokenTtlSeconds: read(env, 'EMAIL_VERIFY_TOKEN_TTL_HOURS') * 3600,
    resetTokenTtlSeconds: read(env, 'PASSWORD_RESET_TOKEN_TTL_MINUTES') * 60,
    forgotPerHour: read(env, 'RATE_LIMIT_FORGOT_PER_HOUR'),
    perAddressPerHour: read(env, 'EMAIL_PER_ADDRESS_PER_HOUR'),
  };
}

/**
 * WebAuthn's relying party from PUBLIC_URL. Browsers refuse passkeys whose RP id is an IP
 * address, so a loopback address (the development default, 127.0.0.1) becomes `localhost`
 * (open the server as http://localhost:PORT); any other bare IP needs WEBAUTHN_RP_ID.
 */
function parseWebAuthn(env: Env, publicUrl: string): Config['mfa']['webauthn'] {
  const url = new URL(publicUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === '127.0.0.1' || host === '::1';
  const explicitRpId = read(env, 'WEBAUTHN_RP_ID');
  const rpId = explicitRpId ?? (loopback ? 'localhost' : isIP(host) === 0 ? host : undefined);
  if (rpId === undefined) return undefined;
  if (isIP(rpId) !== 0) throw new ConfigError('WEBAUTHN_RP_ID', 'browsers refuse passkeys for an IP address; use a domain name (or localhost)');
  let origins = read(env, 'WEBAUTHN_ORIGINS');
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s]+$/i.test(origin)) throw new ConfigError('WEBAUTHN_ORIGINS', `"${origin}" is not an origin (scheme://host[:port])`);
  }
  if (origins.length === 0) {
    origins = [url.origin];
    if (loopback && explicitRpId === undefined) origins.push(`${url.protocol}//localhost${url.port ? `:${url.port}` : ''}`);
  }
  return { rpId, origins };
}

function parseMfa(env: Env, publicUrl: string): Config['mfa'] {
  return {
    issuerName: read(env, 'MFA_ISSUER_NAME'),
    mfaTokenTtlSeconds: read(env, 'MFA_TOKEN_TTL_SECONDS'),
    maxCodeAttempts: read(env, 'MFA_MAX_CODE_ATTEMPTS'),
    webauthn: parseWebAuthn(env, publicUrl),
  };
}

function parseOidc(env: Env): Config['oidc'] {
  const dynamicRegistration = read(env, 'OIDC_DYNAMIC_REGISTRATION');
  const registrationToken = read(env, 'OIDC_REGISTRATION_TOKEN');
  if (dynamicRegistration && (registrationToken === undefined || Buffer.byteLength(registrationToken) < 32)) {
    throw new ConfigError('OIDC_REGISTRATION_TOKEN', 'required (at least 32 bytes) when OIDC_DYNAMIC_REGISTRATION is on: registration is never open to anyone');
  }
  return { dynamicRegistration, registrationToken: dynamicRegistration ? registrationToken : undefined };
}

function parseRedis(env: Env): Config['redis'] {
  const url = read(env, 'REDIS_URL');
  if (url === undefined) return undefined;
  if (!/^rediss?:\/\//i.test(url)) throw new ConfigError('REDIS_URL', 'expected redis://host:port or rediss://...');
  try {
    new URL(url);
  } catch {
    throw new ConfigError('REDIS_URL', 'is not a valid URL');
  }
  const keyPrefix = read(env, 'REDIS_KEY_PREFIX');
  if (!/^[\w:.-]{1,64}$/.test(keyPrefix)) {
    throw new ConfigError('REDIS_KEY_PREFIX', 'use 1-64 letters, digits, "_", ":", "." or "-"');
  }
  return { url, keyPrefix };
}

function isAddressOrCidr(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}

/**
 * Fastify's trustProxy: true/false, or a list of addresses/CIDRs. A hop count is refused
 * rather than passed on: it cannot tell the proxy from a client that connects directly and
 * writes its own X-Forwarded-For, and since 5.12.1 Fastify trusts no hop at all for one, so
 * `TRUST_PROXY=1` silently put every client behind the proxy under the proxy's one login
 * budget. `0` still means no proxy.
 */
function parseTrustProxy(env: Env): boolean | string[] {
  const value = read(env, 'TRUST_PROXY');
  if (value === undefined) return false;
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  if (/^\d+$/.test(value)) {
    if (Number(value) === 0) return false;
    throw new ConfigError(
      'TRUST_PROXY',
      `a hop count (${value}) is no longer accepted: it cannot tell your proxy from a client that connects directly. List your proxies' addresses or CIDRs instead (e.g. 10.0.0.0/8, or uniquelocal for every private range)`,
    );
  }
  const entries = list(env, 'TRUST_PROXY');
  for (const entry of entries) {
    if (!isAddressOrCidr(entry)) {
      throw new ConfigError('TRUST_PROXY', `"${entry}" is not true, false, an address, a CIDR, loopback, linklocal or uniquelocal`);
    }
  }
  return entries;
}

/** Beside the SQLite file; for PostgreSQL under ./data (set KEY_ENCRYPTION_KEY on every instance instead). */
function parseKeyEncryption(env: Env, database: DatabaseConfig, cwd: string): Config['keyEncryption'] {
  const key = read(env, 'KEY_ENCRYPTION_KEY');
  if (key !== undefined && !parseKek(key)) {
    throw new ConfigError('KEY_ENCRYPTION_KEY', 'expected 32 bytes as base64, base64url or hex (e.g. openssl rand -base64 32)');
  }
  const file = database.kind === 'sqlite' ? `${database.path}.key` : path.resolve(cwd, 'data', 'gatehouse.key');
  return { key, file };
}

function parseMetricsToken(env: Env): string | undefined {
  const token = read(env, 'METRICS_TOKEN');
  if (token !== undefined && !/^[A-Za-z0-9._~+/-]{16,256}=*$/.test(token)) {
    throw new ConfigError('METRICS_TOKEN', 'use 16-256 characters a Bearer token may hold (letters, digits, "-._~+/")');
  }
  return token;
}

function parsePublicUrl(env: Env, host: string, port: number): string {
  const value = read(env, 'PUBLIC_URL');
  if (value === undefined) {
    const shown = host.includes(':') ? `[${host}]` : host;
    return `http://${shown}:${port}`;
  }
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError('PUBLIC_URL', `"${value}" is not an absolute URL`);
  }
  if (!['http:', 'https:'].includes(parsed.protocol)) {
    throw new ConfigError('PUBLIC_URL', 'must start with http:// or https://');
  }
  // The issuer is compared as a string by every relying party: nothing that can vary.
  if (parsed.search !== '' || parsed.hash !== '' || value.includes('?') || value.includes('#')) {
    throw new ConfigError('PUBLIC_URL', 'must have no query or fragment');
  }
  return value.replace(/\/+$/, '');
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Readonly<Config> {
  env = readSecretFiles(env, cwd); // NAME_FILE=path for the secret-bearing variables
  const nodeEnv = read(env, 'NODE_ENV');
  const host = read(env, 'HOST');
  const port = read(env, 'PORT');
  const publicUrl = parsePublicUrl(env, host, port);
  const algorithm = parseAlgorithm(env);
  const secretKey = read(env, 'SECRET_KEY');

  if (algorithm === 'HS256') {
    if (secretKey === undefined) {
      throw new ConfigError('SECRET_KEY', 'required when ALGORITHM=HS256');
    }
    if (nodeEnv === 'production' && Buffer.byteLength(secretKey) < 32) {
      throw new ConfigError('SECRET_KEY', 'must be at least 32 bytes with ALGORITHM=HS256 in production');
    }
  }

  const password = {
    minLength: read(env, 'PASSWORD_MIN_LENGTH'),
    maxLength: read(env, 'PASSWORD_MAX_LENGTH'),
    requireUppercase: read(env, 'PASSWORD_REQUIRE_UPPERCASE'),
    requireLowercase: read(env, 'PASSWORD_REQUIRE_LOWERCASE'),
    requireDigit: read(env, 'PASSWORD_REQUIRE_DIGIT'),
    argon2: {
      // OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, t=2, p=1.
      memoryCost: read(env, 'ARGON2_MEMORY_KIB'),
      timeCost: read(env, 'ARGON2_TIME_COST'),
      parallelism: read(env, 'ARGON2_PARALLELISM'),
    },
  };
  // Compared before the bounds are checked, so the message names the real mistake.
  const requestTimeout = VARIABLES.HTTP_REQUEST_TIMEOUT_SECONDS.default;
  const headersTimeout = VARIABLES.HTTP_HEADERS_TIMEOUT_SECONDS.default;
  if (int(env, 'HTTP_REQUEST_TIMEOUT_SECONDS', requestTimeout) <= int(env, 'HTTP_HEADERS_TIMEOUT_SECONDS', headersTimeout)) {
    throw new ConfigError('HTTP_REQUEST_TIMEOUT_SECONDS', 'must be longer than HTTP_HEADERS_TIMEOUT_SECONDS');
  }
  if (password.minLength > password.maxLength) {
    throw new ConfigError('PASSWORD_MIN_LENGTH', `must not exceed PASSWORD_MAX_LENGTH (${password.maxLength})`);
  }

  const config: Config = {
    nodeEnv,
    host,
    port,
    publicUrl,
    publicUrlExplicit: read(env, 'PUBLIC_URL') !== undefined,
    publicPath: new URL(publicUrl).pathname.replace(/\/+$/, ''),
    logLevel: read(env, 'LOG_LEVEL'),
    threadPoolSize: read(env, 'UV_THREADPOOL_SIZE'),
    idleHeapCollection: read(env, 'IDLE_HEAP_COLLECTION'),
    database: parseDatabase(env, cwd),
    keyEncryption: parseKeyEncryption(env, parseDatabase(env, cwd), cwd),
    redis: parseRedis(env),
    jwt: {
      algorithm,
      secretKey: algorithm === 'HS256' ? secretKey : undefined,
      issuer: publicUrl,
      audience: read(env, 'JWT_AUDIENCE'),
      accessTtlSeconds: Math.round(read(env, 'ACCESS_TOKEN_EXPIRE_MINUTES') * 60),
      clockSkewSeconds: read(env, 'JWT_CLOCK_SKEW_SECONDS'),
      verifiedCacheSize: read(env, 'ACCESS_TOKEN_CACHE_SIZE'),
    },
    refresh: {
      ttlSeconds: Math.round(read(env, 'REFRESH_TOKEN_EXPIRE_DAYS') * 86_400),
      reuseGraceSeconds: read(env, 'REFRESH_REUSE_GRACE_SECONDS'),
      cookie: read(env, 'REFRESH_TOKEN_COOKIE'),
    },
    password,
    rateLimit: {
      loginPerMinute: read(env, 'RATE_LIMIT_LOGIN_PER_MINUTE'),
      registerPerHour: read(env, 'RATE_LIMIT_REGISTER_PER_HOUR'),
      refreshPerMinute: read(env, 'RATE_LIMIT_REFRESH_PER_MINUTE'),
      accountIpFailures: read(env, 'LOCKOUT_ACCOUNT_IP_FAILURES'),
      accountFailures: read(env, 'LOCKOUT_ACCOUNT_FAILURES'),
      lockoutWindowSeconds: read(env, 'LOCKOUT_WINDOW_MINUTES') * 60,
      failOpen: read(env, 'RATE_LIMIT_FAIL_OPEN'),
    },
    legacy: parseLegacy(env),
    email: parseEmail(env, nodeEnv, host),
    mfa: parseMfa(env, publicUrl),
    oidc: parseOidc(env),
    http: {
      trustProxy: parseTrustProxy(env),
      corsOrigins: read(env, 'CORS_ORIGINS'),
      bodyLimitBytes: read(env, 'BODY_LIMIT_BYTES'),
      headersTimeoutMs: read(env, 'HTTP_HEADERS_TIMEOUT_SECONDS') * 1000,
      requestTimeoutMs: read(env, 'HTTP_REQUEST_TIMEOUT_SECONDS') * 1000,
      idleTimeoutMs: read(env, 'HTTP_IDLE_TIMEOUT_SECONDS') * 1000,
      metricsToken: parseMetricsToken(env),
    },
  };
  return deepFreeze(config);
}

/** Loads `.env` from cwd (if present) into process.env without overriding what is set. */
export function loadDotEnv(cwd = process.cwd()): void {
  const file = path.join(cwd, '.env');
  if (existsSync(file)) process.loadEnvFile(file);
}

function deepFreeze<T>(value: T): T {
  // Buffers (the key-encryption key) cannot be frozen; nothing hands them out for writing.
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
