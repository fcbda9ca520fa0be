#!/usr/bin/env node
/** The `gatehouse` command: serve, migrate, keys rotate, users create. */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config/index.js';
import { PasswordHasher } from './crypto/password.js';
import { createKeyRing } from './app.js';
import { RegistrationService } from './services/registration.js';
import { systemClock, type Stores } from './services/ports.js';
import { openStores } from './storage/index.js';
import { AppError } from './errors/index.js';

const USAGE = `Usage: gatehouse <command>

Commands:
  serve                      start the HTTP server (applies migrations first)
  migrate                    apply database migrations and exit
  keys rotate                make a new signing key active; old tokens stay valid
  users create --username U --email E (--password-stdin | --password P)
                             create an account (the password follows the policy)

Configuration comes from the environment and ./.env (see README).`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function withStores<T>(config: Readonly<Config>, fn: (stores: Stores) => Promise<T>): Promise<T> {
  const stores = await openStores(config.database);
  try {
    return await fn(stores);
  } finally {
    await stores.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  loadDotEnv();
  const config = loadConfig();

  switch (command) {
    case 'serve': {
      const { serve } = await import('./server.js');
      await serve(config);
      return -1; // keep running
    }
    case 'migrate':
      // Opening the stores applies pending migrations under a lock.
      await withStores(config, async () => undefined);
      console.log(`migrations applied (${config.database.kind})`);
      return 0;
    case 'keys': {
      if (sub !== 'rotate') break;
      const kid = await withStores(config, async (stores) => {
        const ring = createKeyRing(config, stores.signingKeys, systemClock);
        await ring.init();
        return ring.rotate();
      });
      console.log(`new signing key ${kid} is active; earlier keys verify until their tokens expire`);
      return 0;
    }
    case 'users': {
      if (sub !== 'create') break;
      const { values } = parseArgs({
        args: rest,
        options: {
          username: { type: 'string' },
          email: { type: 'string' },
          password: { type: 'string' },
          'password-stdin': { type: 'boolean' },
        },
        strict: true,
      });
      if (!values.username || !values.email || (!values.password && !values['password-stdin'])) {
        console.error('users create needs --username, --email and --password-stdin (or --password)');
        return 2;
      }
      const password = values['password-stdin'] ? await readStdin() : (values.password ?? '');
      const user = await withStores(config, (stores) =>
        new RegistrationService(
          stores.users,
          new PasswordHasher(config.password.argon2),
          config.password,
          { onEvent: () => undefined },
          systemClock,
        ).register({ username: values.username!, email: values.email!, password }),
      );
      console.log(`created user ${user.id} (${user.username})`);
      return 0;
    }
  }
  console.error(`unknown command: ${argv.join(' ')}\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    // One clear line, no stack trace: configuration and input errors name what is wrong.
    if (error instanceof ConfigError) {
      console.error(`gatehouse: configuration error: ${error.message}`);
    } else if (error instanceof AppError) {
      const fields = error.extra.errors?.map((e) => `${e.field} ${e.message}`).join('; ');
      console.error(`gatehouse: ${error.detail}${fields ? `: ${fields}` : ''}`);
    } else {
      console.error(`gatehouse: ${error instanceof Error ? error.message : String(error)}`);
    }
    process.exitCode = error instanceof ConfigError ? 78 : 1;
  },
);
