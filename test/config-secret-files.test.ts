/**
 * NAME_FILE variables (Docker secrets): real files in a temporary directory, read through
 * readSecretFiles and through loadConfig, which calls it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/index.js';
import { readSecretFiles, SECRET_FILE_VARIABLES } from '../src/config/secret-files.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-secret-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

function configError(fn: () => unknown): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  return caught;
}

test('every secret-bearing variable can come from NAME_FILE; one trailing newline is dropped', () => {
  const env: Record<string, string> = {};
  for (const name of SECRET_FILE_VARIABLES) env[`${name}_FILE`] = secretFile(name, `value of ${name}\n`);
  const result = readSecretFiles(env, dir);
  for (const name of SECRET_FILE_VARIABLES) assert.equal(result[name], `value of ${name}`);
  assert.deepEqual([...SECRET_FILE_VARIABLES].sort(), ['DATABASE_URL', 'KEY_ENCRYPTION_KEY', 'LEGACY_SECRET_KEY', 'METRICS_TOKEN', 'OIDC_REGISTRATION_TOKEN', 'REDIS_URL', 'SECRET_KEY', 'SMTP_URL']);
});

test('only one trailing newline (or CRLF) is dropped; inner and leading characters stay', () => {
  const env = {
    SECRET_KEY_FILE: secretFile('two-newlines', '  a secret with spaces\n\n'),
    LEGACY_SECRET_KEY_FILE: secretFile('crlf', 'windows-secret\r\n'),
    SMTP_URL_FILE: secretFile('no-newline', 'smtp://user:p%40ss@127.0.0.1:2525'),
  };
  const result = readSecretFiles(env, dir);
  assert.equal(result.SECRET_KEY, '  a secret with spaces\n');
  assert.equal(result.LEGACY_SECRET_KEY, 'windows-secret');
  assert.equal(result.SMTP_URL, 'smtp://user:p%40ss@127.0.0.1:2525');
});

test('without any NAME_FILE the env is returned as it is', () => {
  const env = { SECRET_KEY: 'x', PORT: '8000' };
  assert.equal(readSecretFiles(env, dir), env);
});

test('the env passed in is not modified', () => {
  const env = { SECRET_KEY_FILE: secretFile('untouched', 'k\n') };
  const result = readSecretFiles(env, dir);
  assert.deepEqual(env, { SECRET_KEY_FILE: path.join(dir, 'untouched') });
  assert.equal(result.SECRET_KEY, 'k');
});

test('a relative path starts at cwd', () => {
  secretFile('relative', 'from-cwd\n');
  assert.equal(readSecretFiles({ SECRET_KEY_FILE: './relative' }, dir).SECRET_KEY, 'from-cwd');
});

test('NAME and NAME_FILE together are refused, naming NAME_FILE', () => {
  const error = configError(() =>
    readSecretFiles({ SECRET_KEY: 'inline', SECRET_KEY_FILE: secretFile('both', 'file\n') }, dir),
  );
  assert.equal(error.variable, 'SECRET_KEY_FILE');
  assert.equal(error.message, 'SECRET_KEY_FILE: SECRET_KEY is set too; set only one of them');
});

test('an empty NAME beside NAME_FILE counts as unset, as everywhere in the configuration', () => {
  const result = readSecretFiles({ REDIS_URL: '', REDIS_URL_FILE: secretFile('redis', 'redis://127.0.0.1:6379\n') }, dir);
  assert.equal(result.REDIS_URL, 'redis://127.0.0.1:6379');
});

test('a missing file is refused with its path and the reason, never a stack trace', () => {
  const missing = path.join(dir, 'does-not-exist');
  const error = configError(() => readSecretFiles({ DATABASE_URL_FILE: missing }, dir));
  assert.equal(error.variable, 'DATABASE_URL_FILE');
  assert.equal(error.message, `DATABASE_URL_FILE: cannot read "${missing}" (ENOENT)`);
});

test('an unreadable file (here a directory) is refused', () => {
  // A directory cannot be read as a file whoever runs the test (root reads any mode).
  const folder = path.join(dir, 'a-directory');
  mkdirSync(folder);
  const error = configError(() => readSecretFiles({ SECRET_KEY_FILE: folder }, dir));
  assert.equal(error.message, `SECRET_KEY_FILE: "${folder}" is not a regular file`);
});

test('an empty file (or one holding only a newline) is refused: it would silently mean "unset"', () => {
  for (const content of ['', '\n']) {
    const file = secretFile(`empty-${content.length}`, content);
    const error = configError(() => readSecretFiles({ DATABASE_URL_FILE: file }, dir));
    assert.equal(error.message, `DATABASE_URL_FILE: "${file}" is empty`);
  }
});

test('an oversized file is refused without being read into the message', () => {
  const file = secretFile('huge', 'S'.repeat(64 * 1024 + 1));
  const error = configError(() => readSecretFiles({ SECRET_KEY_FILE: file }, dir));
  assert.match(error.message, /^SECRET_KEY_FILE: ".*huge" is 65537 bytes; a secret file holds at most 65536$/);
});

test('a file\'s content never appears in an error, even when the value is then refused', () => {
  const file = secretFile('bad-redis', 'redis-password-in-the-wrong-place\n');
  const error = configError(() => loadConfig({ REDIS_URL_FILE: file }, dir));
  assert.equal(error.variable, 'REDIS_URL');
  assert.ok(!error.message.includes('redis-password-in-the-wrong-place'), error.message);
});

test('loadConfig reads NAME_FILE: HS256 key, legacy key, database, Redis and SMTP URLs', () => {
  const config = loadConfig(
    {
      NODE_ENV: 'production',
      ALGORITHM: 'HS256',
      SECRET_KEY_FILE: secretFile('hs256', `${'k'.repeat(40)}\n`),
      LEGACY_SECRET_KEY_FILE: secretFile('legacy', 'legacy-secret\n'),
      DATABASE_URL_FILE: secretFile('db', 'postgres://gatehouse:pw@127.0.0.1:5432/test\n'),
      REDIS_URL_FILE: secretFile('redis-url', 'redis://:pw@127.0.0.1:6379\n'),
      SMTP_URL_FILE: secretFile('smtp', 'smtp://u:pw@127.0.0.1:2525\n'),
    },
    dir,
  );
  assert.equal(config.jwt.secretKey, 'k'.repeat(40));
  assert.equal(config.legacy?.secretKey, 'legacy-secret');
  assert.deepEqual(config.database, { kind: 'postgres', url: 'postgres://gatehouse:pw@127.0.0.1:5432/test', poolSize: 10 });
  assert.equal(config.redis?.url, 'redis://:pw@127.0.0.1:6379');
  assert.equal(config.email.smtpUrl, 'smtp://u:pw@127.0.0.1:2525');
});

test('loadConfig refuses NAME with NAME_FILE', () => {
  const error = configError(() => loadConfig({ SMTP_URL: 'smtp://127.0.0.1:25', SMTP_URL_FILE: secretFile('smtp2', 'smtp://127.0.0.1:26') }, dir));
  assert.equal(error.variable, 'SMTP_URL_FILE');
});

test('NAME_FILE of a variable that is not a secret is not read', () => {
  const config = loadConfig({ PORT_FILE: path.join(dir, 'does-not-exist') }, dir);
  assert.equal(config.port, 8000);
});
