/**
 * loadConfig(env, cwd) as a pure function: every test passes its own env object and cwd,
 * so nothing here depends on process.env, the repository's .env or the working directory.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig, type Config } from '../src/config/index.js';

/** Never touched on disk: loadConfig only resolves paths against it. */
const CWD = path.resolve('/srv/gatehouse-config-test');

function load(env: Record<string, string>): Readonly<Config> {
  return loadConfig(env, CWD);
}

/** Asserts loadConfig(env) throws a ConfigError for `variable`, named in the message too. */
function assertConfigError(env: Record<string, string>, variable: string): ConfigError {
  let caught: unknown;
  try {
    load(env);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError for ${JSON.stringify(env)}, got ${String(caught)}`);
  assert.equal(caught.name, 'ConfigError');
  assert.equal(caught.variable, variable, `variable for ${JSON.stringify(env)}`);
  assert.ok(caught.message.includes(variable), `message "${caught.message}" names ${variable}`);
  return caught;
}

test('an empty env gives the documented defaults', () => {
  const config = load({});
  assert.equal(config.nodeEnv, 'development');
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.port, 8000);
  assert.equal(config.publicUrl, 'http://127.0.0.1:8000');
  assert.equal(config.jwt.issuer, 'http://127.0.0.1:8000');
  assert.equal(config.logLevel, 'info');

  assert.equal(config.database.kind, 'sqlite');
  assert.ok(config.database.kind === 'sqlite');
  assert.equal(path.dirname(config.database.path), path.join(CWD, 'data'));
  assert.match(path.basename(config.database.path), /\.sqlite$/);

  assert.equal(config.jwt.algorithm, 'EdDSA');
  assert.equal(config.jwt.secretKey, undefined);
  assert.equal(config.jwt.accessTtlSeconds, 30 * 60);
  assert.equal(config.refresh.ttlSeconds, 7 * 24 * 60 * 60);
  assert.equal(config.jwt.verifiedCacheSize, 10_000);

  assert.deepEqual(config.password.argon2, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
  assert.equal(config.password.minLength, 8);
  assert.equal(config.password.maxLength, 1024);
  assert.equal(config.password.requireUppercase, true);
  assert.equal(config.password.requireDigit, true);

  assert.equal(config.rateLimit.loginPerMinute, 5);
  assert.equal(config.http.trustProxy, false);
  assert.deepEqual(config.http.corsOrigins, []);
});

test('blank values count as unset', () => {
  const config = load({ PORT: '', HOST: '   ', ALGORITHM: '' });
  assert.equal(config.port, 8000);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.jwt.algorithm, 'EdDSA');
});

test('the original service\'s DATABASE_URL=file:./BOT.sqlite resolves against cwd', () => {
  const config = load({ DATABASE_URL: 'file:./BOT.sqlite' });
  assert.deepEqual(config.database, { kind: 'sqlite', path: path.join(CWD, 'BOT.sqlite') });

  const absolute = path.join(path.resolve('/var/lib/gatehouse'), 'db.sqlite');
  assert.deepEqual(load({ DATABASE_URL: `file:${absolute}` }).database, { kind: 'sqlite', path: absolute });
  assert.deepEqual(load({ DATABASE_URL: 'BOT.sqlite' }).database, { kind: 'sqlite', path: path.join(CWD, 'BOT.sqlite') });
});

test('the original service\'s token lifetimes: ACCESS_TOKEN_EXPIRE_MINUTES, REFRESH_TOKEN_EXPIRE_DAYS', () => {
  const config = load({ ACCESS_TOKEN_EXPIRE_MINUTES: '15', REFRESH_TOKEN_EXPIRE_DAYS: '2' });
  assert.equal(config.jwt.accessTtlSeconds, 900);
  assert.equal(config.refresh.ttlSeconds, 2 * 86_400);
  assert.equal(load({ ACCESS_TOKEN_EXPIRE_MINUTES: '0.5' }).jwt.accessTtlSeconds, 30);
});

test('ACCESS_TOKEN_CACHE_SIZE: a count, 0 turns the cache off, anything else is a ConfigError', () => {
  assert.equal(load({ ACCESS_TOKEN_CACHE_SIZE: '500' }).jwt.verifiedCacheSize, 500);
  assert.equal(load({ ACCESS_TOKEN_CACHE_SIZE: '0' }).jwt.verifiedCacheSize, 0);
  assertConfigError({ ACCESS_TOKEN_CACHE_SIZE: '-1' }, 'ACCESS_TOKEN_CACHE_SIZE');
  assertConfigError({ ACCESS_TOKEN_CACHE_SIZE: 'lots' }, 'ACCESS_TOKEN_CACHE_SIZE');
});

test('ALGORITHM=HS256 with SECRET_KEY keeps the original service\'s symmetric tokens', () => {
  const config = load({ ALGORITHM: 'HS256', SECRET_KEY: 'dev-secret' });
  assert.equal(config.jwt.algorithm, 'HS256');
  assert.equal(config.jwt.secretKey, 'dev-secret');
  // The secret is only carried for HS256.
  assert.equal(load({ SECRET_KEY: 'dev-secret' }).jwt.secretKey, undefined);
});

test('ALGORITHM=HS256 without SECRET_KEY is a ConfigError naming SECRET_KEY', () => {
  assertConfigError({ ALGORITHM: 'HS256' }, 'SECRET_KEY');
  assertConfigError({ ALGORITHM: 'HS256', SECRET_KEY: '  ' }, 'SECRET_KEY');
});

test('in production an HS256 secret needs 32 bytes (bytes, not characters)', () => {
  // SMTP_URL too: production refuses to start without it while email flows are on.
  const prod = { NODE_ENV: 'production', ALGORITHM: 'HS256', SMTP_URL: 'smtp://127.0.0.1:2525' };
  assertConfigError({ ...prod, SECRET_KEY: 'a'.repeat(31) }, 'SECRET_KEY');
  assert.equal(load({ ...prod, SECRET_KEY: 'a'.repeat(32) }).jwt.secretKey, 'a'.repeat(32));
  // 16 characters of two bytes each: 32 bytes, accepted; 15 of them plus one byte: 31, refused.
  assert.equal(load({ ...prod, SECRET_KEY: 'é'.repeat(16) }).jwt.algorithm, 'HS256');
  assertConfigError({ ...prod, SECRET_KEY: `${'é'.repeat(15)}a` }, 'SECRET_KEY');
  // Outside production a short secret is tolerated (the original service's dev setups).
  assert.equal(load({ ALGORITHM: 'HS256', SECRET_KEY: 'short' }).jwt.secretKey, 'short');
});

for (const [name, env, variable] of [
  ['PORT=abc', { PORT: 'abc' }, 'PORT'],
  ['PORT=70000', { PORT: '70000' }, 'PORT'],
  ['PORT=8000.5', { PORT: '8000.5' }, 'PORT'],
  ['ACCESS_TOKEN_EXPIRE_MINUTES=-1', { ACCESS_TOKEN_EXPIRE_MINUTES: '-1' }, 'ACCESS_TOKEN_EXPIRE_MINUTES'],
  ['ACCESS_TOKEN_EXPIRE_MINUTES=0', { ACCESS_TOKEN_EXPIRE_MINUTES: '0' }, 'ACCESS_TOKEN_EXPIRE_MINUTES'],
  ['REFRESH_TOKEN_EXPIRE_DAYS=soon', { REFRESH_TOKEN_EXPIRE_DAYS: 'soon' }, 'REFRESH_TOKEN_EXPIRE_DAYS'],
  ['ALGORITHM=XYZ', { ALGORITHM: 'XYZ' }, 'ALGORITHM'],
  ['TRUST_PROXY=not an ip', { TRUST_PROXY: 'not an ip' }, 'TRUST_PROXY'],
  ['TRUST_PROXY=99 (a hop count)', { TRUST_PROXY: '99' }, 'TRUST_PROXY'],
  ['DATABASE_URL=mysql://x', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
  ['DATABASE_URL=:memory:', { DATABASE_URL: ':memory:' }, 'DATABASE_URL'],
  ['DATABASE_URL=file::memory:', { DATABASE_URL: 'file::memory:' }, 'DATABASE_URL'],
  ['LOG_LEVEL=loud', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ['NODE_ENV=staging', { NODE_ENV: 'staging' }, 'NODE_ENV'],
  ['PUBLIC_URL=not a url', { PUBLIC_URL: 'not a url' }, 'PUBLIC_URL'],
  ['PUBLIC_URL with a query', { PUBLIC_URL: 'https://auth.example.com/?tenant=1' }, 'PUBLIC_URL'],
  ['PUBLIC_URL with a fragment', { PUBLIC_URL: 'https://auth.example.com/auth#x' }, 'PUBLIC_URL'],
  ['PASSWORD_REQUIRE_DIGIT=maybe', { PASSWORD_REQUIRE_DIGIT: 'maybe' }, 'PASSWORD_REQUIRE_DIGIT'],
  ['ARGON2_MEMORY_KIB=0', { ARGON2_MEMORY_KIB: '0' }, 'ARGON2_MEMORY_KIB'],
] as const) {
  test(`bad value ${name} → ConfigError for ${variable}`, () => {
    assertConfigError(env, variable);
  });
}

test('PASSWORD_MIN_LENGTH greater than PASSWORD_MAX_LENGTH → ConfigError naming both', () => {
  const error = assertConfigError({ PASSWORD_MIN_LENGTH: '100', PASSWORD_MAX_LENGTH: '50' }, 'PASSWORD_MIN_LENGTH');
  assert.match(error.message, /PASSWORD_MAX_LENGTH/);
  // Equal bounds are consistent.
  const equal = load({ PASSWORD_MIN_LENGTH: '50', PASSWORD_MAX_LENGTH: '50' });
  assert.equal(equal.password.minLength, 50);
  assert.equal(equal.password.maxLength, 50);
});

test('TRUST_PROXY: true, false (or 0), or a list of addresses and CIDRs', () => {
  assert.equal(load({ TRUST_PROXY: 'true' }).http.trustProxy, true);
  assert.equal(load({ TRUST_PROXY: 'FALSE' }).http.trustProxy, false);
  assert.equal(load({ TRUST_PROXY: '0' }).http.trustProxy, false);
  assert.deepEqual(load({ TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).http.trustProxy, ['10.0.0.0/8', '127.0.0.1']);
  assert.deepEqual(load({ TRUST_PROXY: ' 10.0.0.0/8 , ::1 ,loopback' }).http.trustProxy, ['10.0.0.0/8', '::1', 'loopback']);
});

// Fastify 5.12.1 trusts no hop for a numeric trustProxy (a hop count cannot tell the proxy
// from a direct client), so TRUST_PROXY=1, which the README once advised behind one proxy,
// loaded fine and then put every client under the proxy's address: one login budget for all.
test('TRUST_PROXY as a hop count is refused, naming what to set instead', () => {
  for (const value of ['1', '2', '20']) {
    const error = assertConfigError({ TRUST_PROXY: value }, 'TRUST_PROXY');
    assert.match(error.message, /hop count/);
    assert.match(error.message, /addresses or CIDRs/);
  }
});

// Addresses made of the right characters but not valid addresses must be refused here too:
// otherwise Fastify's proxy-addr throws "invalid IP address: ..." at start-up, a message
// that does not name TRUST_PROXY.
test('TRUST_PROXY with an invalid address or CIDR prefix → ConfigError for TRUST_PROXY', () => {
  for (const value of ['999.0.0.1', '10.0.0.0/99', '127.0.0.1,:::']) {
    assertConfigError({ TRUST_PROXY: value }, 'TRUST_PROXY');
  }
});

test('CORS_ORIGINS is a comma-separated list, trimmed, empties dropped', () => {
  const config = load({ CORS_ORIGINS: 'https://app.example.com, https://admin.example.com,,' });
  assert.deepEqual(config.http.corsOrigins, ['https://app.example.com', 'https://admin.example.com']);
});

test('publicUrl follows HOST and PORT unless PUBLIC_URL is set', () => {
  assert.equal(load({ PORT: '9000' }).publicUrl, 'http://127.0.0.1:9000');
  assert.equal(load({ HOST: '::1' }).publicUrl, 'http://[::1]:8000');
  const set = load({ PUBLIC_URL: 'https://auth.example.com/' });
  assert.equal(set.publicUrl, 'https://auth.example.com');
  assert.equal(set.jwt.issuer, 'https://auth.example.com');
  assert.equal(set.publicPath, '', 'at the root of its host');
  const under = load({ PUBLIC_URL: 'https://example.com/auth/' });
  assert.equal(under.jwt.issuer, 'https://example.com/auth');
  assert.equal(under.publicPath, '/auth');
});

test('ALGORITHM accepts ES256 and RS256, and Ed25519 as a name for EdDSA', () => {
  assert.equal(load({ ALGORITHM: 'ES256' }).jwt.algorithm, 'ES256');
  assert.equal(load({ ALGORITHM: 'rs256' }).jwt.algorithm, 'RS256');
  assert.equal(load({ ALGORITHM: 'Ed25519' }).jwt.algorithm, 'EdDSA');
});

test('the returned config is deeply frozen', () => {
  const config = load({ CORS_ORIGINS: 'https://app.example.com', TRUST_PROXY: '10.0.0.1' });
  assert.ok(Object.isFrozen(config));
  for (const part of [config.database, config.jwt, config.refresh, config.password, config.password.argon2, config.rateLimit, config.http, config.http.corsOrigins]) {
    assert.ok(Object.isFrozen(part));
  }
  // ES modules run in strict mode, where writing to a frozen object throws.
  assert.throws(() => {
    (config as { port: number }).port = 1;
  }, TypeError);
  assert.throws(() => {
    config.jwt.accessTtlSeconds = 1;
  }, TypeError);
  assert.throws(() => {
    config.http.corsOrigins.push('https://evil.example.com');
  }, TypeError);
  assert.equal(config.port, 8000);
  assert.deepEqual(config.http.corsOrigins, ['https://app.example.com']);
});

test('loadConfig does not read process.env when given an env object', () => {
  const previous = process.env.PORT;
  process.env.PORT = '1234';
  try {
    assert.equal(load({}).port, 8000);
  } finally {
    if (previous === undefined) delete process.env.PORT;
    else process.env.PORT = previous;
  }
});

test('email settings: production needs SMTP_URL while email flows are on; EMAIL_FLOWS=false runs without', () => {
  assert.throws(() => loadConfig({ NODE_ENV: 'production' }, '/srv'), (e: unknown) => e instanceof ConfigError && e.variable === 'SMTP_URL');
  assert.equal(loadConfig({ NODE_ENV: 'production', EMAIL_FLOWS: 'false' }, '/srv').email.enabled, false);
  const c = loadConfig({ SMTP_URL: 'smtp://mail.example.com:587', MAIL_FROM: 'Auth <auth@example.com>' }, '/srv');
  assert.equal(c.email.smtpUrl, 'smtp://mail.example.com:587');
  assert.equal(c.email.verifyTokenTtlSeconds, 24 * 3600);
  assert.equal(c.email.resetTokenTtlSeconds, 30 * 60);
  assert.equal(c.email.verifyOnRegister, true);
  assert.equal(c.email.requireVerified, false);
  assert.throws(() => loadConfig({ SMTP_URL: 'http://x' }, '/srv'), (e: unknown) => e instanceof ConfigError && e.variable === 'SMTP_URL');
  assert.throws(
    () => loadConfig({ EMAIL_FLOWS: 'false', REQUIRE_VERIFIED_EMAIL: 'true' }, '/srv'),
    (e: unknown) => e instanceof ConfigError && e.variable === 'REQUIRE_VERIFIED_EMAIL',
  );
});

// Security review (issue 15), item 11: live reset links must not end up in a log that a
// server reachable from the network writes, unless someone asked for exactly that.
test('email flows without SMTP_URL on a non-loopback address refuse to start unless MAIL_TO_LOG=true', () => {
  for (const host of ['0.0.0.0', '::', '10.1.2.3']) {
    assertConfigError({ HOST: host }, 'SMTP_URL');
  }
  for (const host of ['127.0.0.1', '::1', 'localhost', '127.0.0.2']) {
    assert.equal(load({ HOST: host }).email.smtpUrl, undefined, host);
  }
  assert.equal(load({ HOST: '0.0.0.0', MAIL_TO_LOG: 'true' }).email.enabled, true);
  assert.equal(load({ HOST: '0.0.0.0', EMAIL_FLOWS: 'false' }).email.enabled, false);
  assert.equal(load({ HOST: '0.0.0.0', SMTP_URL: 'smtp://mail.example.com:587' }).email.smtpUrl, 'smtp://mail.example.com:587');
});

// Item 15: the original service's secret must not be Gatehouse's own.
test('LEGACY_SECRET_KEY equal to SECRET_KEY is a ConfigError naming LEGACY_SECRET_KEY', () => {
  const secret = 'a-shared-secret-that-is-long-enough-32b';
  assertConfigError({ ALGORITHM: 'HS256', SECRET_KEY: secret, LEGACY_SECRET_KEY: secret }, 'LEGACY_SECRET_KEY');
  assertConfigError({ SECRET_KEY: secret, LEGACY_SECRET_KEY: secret }, 'LEGACY_SECRET_KEY');
  assert.ok(load({ ALGORITHM: 'HS256', SECRET_KEY: secret, LEGACY_SECRET_KEY: `${secret}-other` }).legacy);
});
