/**
 * Every environment variable Gatehouse reads, declared once: its type, default, bounds,
 * the original FastAPI service's name for it, and one line of documentation.
 * `loadConfig` reads through `read()` below; `npm run docs:config` writes README.md's
 * configuration table from this list, and test/config-docs.test.ts fails when they differ.
 * A new variable is one entry here, one `read()` in config/index.ts, and `npm run docs:config`.
 */
import { bool, int, list, oneOf, positiveNumber, str, type Env } from './env-parsers.js';

interface Common {
  /** One line for the README (Markdown). */
  doc: string;
  /** The variable of the original FastAPI service this one keeps working for. */
  original?: string;
  /** The default as the README shows it, when it is not the literal value (derived, or none). */
  shown?: string;
}

export type Variable =
  | (Common & { type: 'string'; default?: string })
  | (Common & { type: 'integer'; default: number; min?: number; max?: number })
  /** A positive decimal (minutes may be fractional, e.g. 0.5). */
  | (Common & { type: 'number'; default: number })
  | (Common & { type: 'boolean'; default: boolean })
  | (Common & { type: 'enum'; values: readonly string[]; default: string })
  /** Comma-separated, empty by default. */
  | (Common & { type: 'list' });

export const VARIABLES = {
  HOST: { type: 'string', default: '127.0.0.1', doc: 'the address to listen on' },
  PORT: { type: 'integer', default: 8000, min: 0, max: 65535, doc: 'the port to listen on' },
  PUBLIC_URL: {
    type: 'string',
    shown: '`http://HOST:PORT`',
    doc: 'the issuer (`iss`) and the base of every absolute URL the server publishes. It may have a path (`https://example.com/auth`) for a reverse proxy that serves Gatehouse under that path and strips it before forwarding: the pages\' links and forms, redirects and cookie paths then start with it. No query or fragment',
  },
  NODE_ENV: {
    type: 'enum',
    values: ['development', 'production', 'test'],
    default: 'development',
    doc: '`production` refuses an HS256 `SECRET_KEY` shorter than 32 bytes, and starting without `SMTP_URL` while `EMAIL_FLOWS` is on',
  },
  LOG_LEVEL: {
    type: 'enum',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    doc: 'pino level; `silent` turns logs off',
  },
  DATABASE_URL: {
    type: 'string',
    default: 'file:./data/gatehouse.sqlite',
    original: 'DATABASE_URL',
    doc: '`file:./BOT.sqlite` (the original\'s form), a plain path, or `postgres://user@host:5432/db`; `?schema=name` installs into that PostgreSQL schema (created if missing)',
  },
  DATABASE_POOL_SIZE: { type: 'integer', default: 10, min: 1, max: 200, doc: 'PostgreSQL connections per instance' },
  REDIS_URL: {
    type: 'string',
    doc: '`redis://host:6379`: rate-limit and lockout counters shared by every instance (in-process counters without it)',
  },
  REDIS_KEY_PREFIX: {
    type: 'string',
    default: 'gatehouse:',
    doc: 'prefix of every Redis key, to share one Redis between deployments (1-64 letters, digits, `_`, `:`, `.`, `-`)',
  },
  RATE_LIMIT_FAIL_OPEN: {
    type: 'boolean',
    default: false,
    doc: 'when Redis is unreachable, rate-limited routes answer 503 (fail closed); `true` lets them through uncounted',
  },
  ALGORITHM: {
    type: 'enum',
    values: ['EdDSA', 'ES256', 'RS256', 'HS256'],
    default: 'EdDSA',
    shown: '`EdDSA` (Ed25519)',
    original: 'ALGORITHM',
    doc: '`ES256` or `RS256` for resource servers whose JWT library lacks Ed25519 (`Ed25519` is a name for `EdDSA`); `HS256` signs with `SECRET_KEY` and publishes no key of its own (the JWKS then lists OpenID Connect ID-token keys only)',
  },
  SECRET_KEY: { type: 'string', original: 'SECRET_KEY', doc: 'only with `ALGORITHM=HS256` (required then; 32 bytes or more in production)' },
  JWT_AUDIENCE: { type: 'string', default: 'gatehouse', doc: 'the `aud` of access tokens; verification requires it' },
  JWT_CLOCK_SKEW_SECONDS: { type: 'integer', default: 30, min: 0, max: 300, doc: 'tolerated clock difference on `exp`/`iat`' },
  ACCESS_TOKEN_EXPIRE_MINUTES: {
    type: 'number',
    default: 30,
    original: 'ACCESS_TOKEN_EXPIRE_MINUTES',
    doc: 'access-token lifetime; fractions work (`0.05` = 3 s, as the browser tests use)',
  },
  ACCESS_TOKEN_CACHE_SIZE: {
    type: 'integer',
    default: 10_000,
    min: 0,
    max: 10_000_000,
    doc: 'access tokens whose signature check is remembered until they expire (keyed by a SHA-256 digest, ~0.5 KB each); the revocation check still runs on every request; `0` verifies every token anew',
  },
  REFRESH_TOKEN_EXPIRE_DAYS: {
    type: 'number',
    default: 7,
    original: 'REFRESH_TOKEN_EXPIRE_DAYS',
    doc: 'session lifetime; each rotation extends it by this much',
  },
  REFRESH_REUSE_GRACE_SECONDS: {
    type: 'integer',
    default: 10,
    min: 0,
    max: 300,
    doc: 'how long a just-rotated refresh token is answered with the same new token',
  },
  REFRESH_TOKEN_COOKIE: {
    type: 'boolean',
    default: false,
    doc: 'cookie mode for browsers: on requests with `X-Gatehouse-CSRF: 1`, the refresh token travels in an `HttpOnly; Secure; SameSite=Strict` cookie scoped to `/refresh` (see "Use it from another service")',
  },
  PASSWORD_MIN_LENGTH: { type: 'integer', default: 8, min: 1, max: 1024, doc: 'counted in characters (code points); at most `PASSWORD_MAX_LENGTH`' },
  PASSWORD_MAX_LENGTH: { type: 'integer', default: 1024, min: 8, max: 4096, doc: 'counted in characters (code points)' },
  PASSWORD_REQUIRE_UPPERCASE: { type: 'boolean', default: true, doc: 'the original service\'s rule, each part switchable' },
  PASSWORD_REQUIRE_LOWERCASE: { type: 'boolean', default: false, doc: 'a lowercase letter' },
  PASSWORD_REQUIRE_DIGIT: { type: 'boolean', default: true, doc: 'a digit (the original service\'s rule)' },
  ARGON2_MEMORY_KIB: {
    type: 'integer',
    default: 19456,
    min: 8,
    max: 4_194_304,
    doc: 'argon2id memory cost (OWASP: 19 MiB, t=2, p=1); changing a cost rehashes each password at its next login',
  },
  ARGON2_TIME_COST: { type: 'integer', default: 2, min: 1, max: 100, doc: 'argon2id passes' },
  ARGON2_PARALLELISM: { type: 'integer', default: 1, min: 1, max: 16, doc: 'argon2id lanes' },
  UV_THREADPOOL_SIZE: {
    type: 'integer',
    default: 4,
    min: 1,
    max: 1024,
    doc: 'libuv\'s thread pool (read by Node itself; lowered below the event loop at start): token signatures and verifications, fsyncs, file I/O; password hashes run on their own pool of cores + 1 threads, also lowered',
  },
  IDLE_HEAP_COLLECTION: {
    type: 'boolean',
    default: true,
    doc: 'after a load, once the process has been quiet for a second, ask V8 for full collections so the heap the load grew is handed back (pauses of 30-55 ms, only while nothing runs; see docs/performance.md, "RSS")',
  },
  RATE_LIMIT_LOGIN_PER_MINUTE: { type: 'integer', default: 5, min: 1, doc: 'password checks per client IP: one budget shared by `/login` and the password grant of `/oauth/token` (the original\'s limit)' },
  RATE_LIMIT_REGISTER_PER_HOUR: { type: 'integer', default: 20, min: 1, doc: 'per client IP, on `/register`' },
  RATE_LIMIT_REFRESH_PER_MINUTE: { type: 'integer', default: 30, min: 1, doc: 'per client IP, on `/refresh` and on the refresh and authorization_code grants of `/oauth/token`' },
  LOCKOUT_ACCOUNT_IP_FAILURES: {
    type: 'integer',
    default: 5,
    min: 1,
    doc: 'failed logins for one account from one IP before that pair is locked; also the budget of one known device (a login with a device token)',
  },
  LOCKOUT_ACCOUNT_FAILURES: {
    type: 'integer',
    default: 10,
    min: 1,
    doc: 'failed logins for one account from all IPs before the account is locked for unknown devices (a device that logged in before keeps its own count)',
  },
  LOCKOUT_WINDOW_MINUTES: {
    type: 'integer',
    default: 15,
    min: 1,
    max: 1440,
    doc: 'the window both lockout counters use; locks end with it',
  },
  EMAIL_FLOWS: {
    type: 'boolean',
    default: true,
    doc: 'email verification and password reset; `false` removes those endpoints and sends no mail',
  },
  SMTP_URL: {
    type: 'string',
    doc: '`smtp://user:pass@host:587` or `smtps://...`; without it, a server on a loopback `HOST` logs each mail (marked `DEVELOPMENT MAIL, NOT SENT`), while production, and any server listening on a non-loopback address, refuses to start while `EMAIL_FLOWS` is on',
  },
  MAIL_TO_LOG: {
    type: 'boolean',
    default: false,
    doc: '`true` lets a server on a non-loopback address without `SMTP_URL` log its mails, live reset and verification links included (a weakening: whoever reads the log can take accounts over)',
  },
  MAIL_FROM: { type: 'string', default: 'Gatehouse <no-reply@localhost>', doc: 'the sender of every mail' },
  EMAIL_VERIFY_ON_REGISTER: { type: 'boolean', default: true, doc: 'mail a verification link at registration' },
  REQUIRE_VERIFIED_EMAIL: {
    type: 'boolean',
    default: false,
    doc: 'refuse logins (403 `email_not_verified`, only after the right password) until the address is verified; needs `EMAIL_FLOWS`',
  },
  EMAIL_VERIFY_TOKEN_TTL_HOURS: { type: 'integer', default: 24, min: 1, max: 720, doc: 'lifetime of a mailed verification link' },
  PASSWORD_RESET_TOKEN_TTL_MINUTES: { type: 'integer', default: 30, min: 5, max: 1440, doc: 'lifetime of a mailed password-reset link' },
  RATE_LIMIT_FORGOT_PER_HOUR: {
    type: 'integer',
    default: 5,
    min: 1,
    doc: 'per client IP, on `/password/forgot` and `/email/verify/request`',
  },
  EMAIL_PER_ADDRESS_PER_HOUR: {
    type: 'integer',
    default: 3,
    min: 1,
    doc: 'mails to one address per hour from all IPs; beyond it requests are answered alike but nothing is sent',
  },
  LEGACY_SECRET_KEY: {
    type: 'string',
    original: 'SECRET_KEY',
    doc: 'transition mode: the original service\'s `SECRET_KEY`, so its unexpired JWTs keep working (see "Migrating from the FastAPI service"); must differ from `SECRET_KEY`',
  },
  LEGACY_TOKENS_UNTIL: {
    type: 'string',
    doc: 'an ISO 8601 date after which original tokens are refused (set it to the cut-over date + 7 days)',
  },
  LEGACY_ALGORITHM: {
    type: 'enum',
    values: ['HS256', 'HS384', 'HS512'],
    default: 'HS256',
    original: 'ALGORITHM',
    doc: 'the original service\'s `ALGORITHM`',
  },
  LEGACY_ACCESS_TOKEN_EXPIRE_MINUTES: {
    type: 'number',
    default: 30,
    original: 'ACCESS_TOKEN_EXPIRE_MINUTES',
    doc: 'the original service\'s access-token lifetime',
  },
  TRUST_PROXY: {
    type: 'string',
    shown: '`false`',
    doc: 'the addresses/CIDRs of your proxies (or `loopback`, `linklocal`, `uniquelocal`): only then is `X-Forwarded-For` believed, up to the first address not in the list. A hop count is refused at start (it cannot tell the proxy from a client that connects directly; `0` means none). `true` believes its leftmost address, which the client writes, so every per-IP limit counts whatever address an attacker claims (the server warns at start)',
  },
  METRICS_TOKEN: {
    type: 'string',
    doc: 'a Bearer token (16-256 characters) that `GET /metrics` then requires from everyone; without it `/metrics` answers loopback clients only (403 otherwise)',
  },
  KEY_ENCRYPTION_KEY: {
    type: 'string',
    shown: 'a key file',
    doc: '32 bytes (base64, base64url or hex; `openssl rand -base64 32`) that seal the private signing keys and the TOTP seeds in the database (AES-256-GCM). Without it a key file is made on first start, mode 0600: `<database file>.key` beside a SQLite database, `./data/gatehouse.key` with PostgreSQL (production warns: set this instead, the same on every instance). Keep it out of database backups',
  },
  CORS_ORIGINS: { type: 'list', doc: 'comma-separated origins allowed to call from a browser' },
  MFA_ISSUER_NAME: { type: 'string', default: 'Gatehouse', doc: 'the name authenticator apps and passkey prompts show' },
  MFA_TOKEN_TTL_SECONDS: {
    type: 'integer',
    default: 300,
    min: 30,
    max: 900,
    doc: 'lifetime of the `mfa_token` between the password and the second factor, and of passkey ceremony challenges',
  },
  MFA_MAX_CODE_ATTEMPTS: {
    type: 'integer',
    default: 5,
    min: 1,
    max: 10,
    doc: 'wrong codes per `mfa_token` before it dies (each also counts toward the lockout)',
  },
  WEBAUTHN_RP_ID: {
    type: 'string',
    shown: 'the host of `PUBLIC_URL`',
    doc: 'the passkeys\' relying-party id, a domain: browsers refuse passkeys on a bare IP address. With the default `PUBLIC_URL` on `127.0.0.1` it is `localhost` (open `http://localhost:8000` in development); on another bare IP passkeys are off until this is set',
  },
  WEBAUTHN_ORIGINS: {
    type: 'list',
    shown: 'the origin of `PUBLIC_URL`',
    doc: 'comma-separated origins whose pages may register and use passkeys (the loopback default adds `http://localhost:PORT`)',
  },
  OIDC_DYNAMIC_REGISTRATION: {
    type: 'boolean',
    default: false,
    doc: 'RFC 7591 dynamic client registration at `POST /oauth/register` (for MCP clients); a weakening, off by default',
  },
  OIDC_REGISTRATION_TOKEN: {
    type: 'string',
    doc: 'required (32 bytes or more) with `OIDC_DYNAMIC_REGISTRATION=true`: the initial access token a registration sends as `Authorization: Bearer`',
  },
  BODY_LIMIT_BYTES: { type: 'integer', default: 16_384, min: 1024, max: 1_048_576, doc: 'larger bodies are refused with 413' },
  HTTP_HEADERS_TIMEOUT_SECONDS: {
    type: 'integer',
    default: 10,
    min: 1,
    max: 300,
    doc: 'a client must send its request headers within this (slow clients cannot hold a socket)',
  },
  HTTP_REQUEST_TIMEOUT_SECONDS: {
    type: 'integer',
    default: 30,
    min: 2,
    max: 600,
    doc: 'the whole request must arrive within this; longer than `HTTP_HEADERS_TIMEOUT_SECONDS`',
  },
  HTTP_IDLE_TIMEOUT_SECONDS: {
    type: 'integer',
    default: 75,
    min: 1,
    max: 3600,
    doc: 'an idle keep-alive socket is closed after this (past the 60 s load balancers expect)',
  },
} as const satisfies Record<string, Variable>;

export type VariableName = keyof typeof VARIABLES;

type Decl<N extends VariableName> = (typeof VARIABLES)[N];

/** The type `read()` returns for a variable, from its declaration. */
export type ValueOf<N extends VariableName> =
  Decl<N> extends { type: 'integer' | 'number' } ? number
  : Decl<N> extends { type: 'boolean' } ? boolean
  : Decl<N> extends { type: 'list' } ? string[]
  : Decl<N> extends { type: 'enum'; values: readonly (infer V)[] } ? V
  : Decl<N> extends { type: 'string'; default: string } ? string
  : string | undefined;

/** Reads one declared variable: its type, default and bounds come from VARIABLES. */
export function read<N extends VariableName>(env: Env, name: N): ValueOf<N> {
  const decl: Variable = VARIABLES[name];
  switch (decl.type) {
    case 'string':
      return (decl.default === undefined ? str(env, name) : str(env, name, decl.default)) as ValueOf<N>;
    case 'integer':
      return int(env, name, decl.default, { min: decl.min, max: decl.max }) as ValueOf<N>;
    case 'number':
      return positiveNumber(env, name, decl.default) as ValueOf<N>;
    case 'boolean':
      return bool(env, name, decl.default) as ValueOf<N>;
    case 'enum':
      return oneOf(env, name, decl.values, decl.default) as ValueOf<N>;
    case 'list':
      return list(env, name) as ValueOf<N>;
  }
}
