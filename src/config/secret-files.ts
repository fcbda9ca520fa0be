/**
 * Secrets from files (the Docker/Kubernetes secrets convention): `SECRET_KEY_FILE=/run/secrets/key`
 * stands for `SECRET_KEY=<that file's content>`, so secrets need not sit in the environment,
 * where `docker inspect`, `/proc/PID/environ` and crash reports show them.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Env } from './env-parsers.js';

/** The variables that carry secrets (passwords ride in the URLs); each may come from NAME_FILE. */
export const SECRET_FILE_VARIABLES = ['SECRET_KEY', 'LEGACY_SECRET_KEY', 'KEY_ENCRYPTION_KEY', 'METRICS_TOKEN', 'OIDC_REGISTRATION_TOKEN', 'DATABASE_URL', 'REDIS_URL', 'SMTP_URL'] as const;

/** Larger than any key or URL: a bigger file is the wrong file (or /dev/urandom). */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

function isSet(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

function readSecretFile(variable: string, file: string): string {
  let content: string;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new ConfigError(variable, `"${file}" is not a regular file`);
    if (stat.size > MAX_SECRET_FILE_BYTES) {
      throw new ConfigError(variable, `"${file}" is ${stat.size} bytes; a secret file holds at most ${MAX_SECRET_FILE_BYTES}`);
    }
    content = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(variable, `cannot read "${file}" (${code})`);
  }
  // Files written by `echo` or an editor end with a newline that is not part of the secret.
  const value = content.replace(/\r?\n$/, '');
  if (value.trim() === '') throw new ConfigError(variable, `"${file}" is empty`);
  return value;
}

/**
 * Returns env with each NAME_FILE of SECRET_FILE_VARIABLES replaced by NAME = the file's
 * content (one trailing newline dropped). Refuses NAME and NAME_FILE together (which would
 * win is a guess), an unreadable, empty or oversized file. Relative paths start at cwd.
 * Never puts a file's content in an error message.
 */
export function readSecretFiles(env: Env, cwd: string): Env {
  let result: Record<string, string | undefined> | undefined;
  for (const name of SECRET_FILE_VARIABLES) {
    const fileVariable = `${name}_FILE`;
    const file = env[fileVariable];
    if (!isSet(file)) continue;
    if (isSet(env[name])) {
      throw new ConfigError(fileVariable, `${name} is set too; set only one of them`);
    }
    result ??= { ...env };
    result[name] = readSecretFile(fileVariable, path.resolve(cwd, file.trim()));
    delete result[fileVariable];
  }
  return result ?? env;
}
