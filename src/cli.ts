#!/usr/bin/env -S node --max-semi-space-size=4
/** The `gatehouse` command: serve, migrate, keys rotate, users create. */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config/index.js';
import { PasswordHasher } from './crypto/password.js';
import { RegistrationService } from './services/registration.js';
import { ClientRegistry } from './services/client-registry.js';
import type { GrantType } from './domain/types.js';
import { importLegacyUsers } from './services/legacy-import.js';
import { LegacyDatabaseError, legacyPath, readLegacyDatabase } from './storage/legacy/prisma-sqlite.js';
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
  clients create --id ID [--grants password,refresh_token] [--audience AUD] [--public]
                             register an OAuth client; prints its secret once
  clients list               registered OAuth clients (never their secrets)
  clients delete --id ID     remove a client
  import --from file:./BOT.sqlite [--dry-run]
                             copy users (bcrypt hashes, ids where free) and blacklisted
                             tokens from the original FastAPI service's database
  audit [--user ID] [--type T] [--limit N] [--json]
                             the security audit trail, newest first

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
      // The HTTP stack (app.js) is loaded only by the commands that use it.
      const { createKeyRing } = await import('./app.js');
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
          stores,
          new PasswordHasher(config.password.argon2),
          config.password,
          { onEvent: () => undefined },
          systemClock,
        ).register({ username: values.username!, email: values.email!, password }),
      );
      console.log(`created user ${user.id} (${user.username})`);
      return 0;
    }
    case 'import': {
      const { values } = parseArgs({
        args: [sub, ...rest].filter((a): a is string => a !== undefined),
        options: { from: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
        strict: true,
      });
      if (!values.from) {
        console.error('import needs --from file:./BOT.sqlite (or a path to the database)');
        return 2;
      }
      const source = legacyPath(values.from);
      if (config.database.kind === 'sqlite' && config.database.path === source) {
        console.error('import: --from is Gatehouse\'s own database; point DATABASE_URL somewhere else');
        return 2;
      }
      const data = readLegacyDatabase(source);
      const dryRun = values['dry-run'];
      const report = await withStores(config, (stores) => importLegacyUsers(stores.imports, data, new Date(), dryRun));
      const verb = dryRun ? 'would import' : 'imported';
      console.log(`${dryRun ? '[dry run, nothing written] ' : ''}${data.users.length} users read: ${verb} ${report.imported} (${report.keptIds} with their original id), ${report.alreadyPresent} already present, ${report.conflicts.length} skipped`);
      for (const c of report.conflicts) console.log(`  skipped user ${c.id} (${c.username}): ${c.reason}`);
      console.log(`${verb} ${report.revokedTokens} unexpired blacklisted tokens`);
      if (report.imported === 0 && report.revokedTokens === 0) console.log('nothing new to import');
      return 0;
    }
    case 'audit': {
      const { values } = parseArgs({
        args: [sub, ...rest].filter((a): a is string => a !== undefined),
        options: {
          user: { type: 'string' },
          type: { type: 'string' },
          limit: { type: 'string', default: '50' },
          json: { type: 'boolean', default: false },
        },
        strict: true,
      });
      const limit = Number(values.limit);
      const userId = values.user === undefined ? undefined : Number(values.user);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000 || (userId !== undefined && !Number.isInteger(userId))) {
        console.error('audit: --limit takes 1-10000 and --user a numeric user id');
        return 2;
      }
      const entries = await withStores(config, (stores) => stores.audit.list({ userId, type: values.type, limit }));
      for (const e of entries) {
        if (values.json) console.log(JSON.stringify({ ...e, at: e.at.toISOString() }));
        else {
          const detail = e.detail ? ` ${JSON.stringify(e.detail)}` : '';
          console.log(`${e.at.toISOString()}  ${e.type.padEnd(24)} user=${e.userId ?? '-'} ip=${e.ip ?? '-'}${detail}`);
        }
      }
      return 0;
    }
    case 'clients': {
      if (sub !== 'create' && sub !== 'list' && sub !== 'delete') break;
      const { values } = parseArgs({
        args: rest,
        options: {
          id: { type: 'string' },
          name: { type: 'string' },
          grants: { type: 'string', default: 'password,refresh_token' },
          audience: { type: 'string' },
          public: { type: 'boolean', default: false },
        },
        strict: true,
      });
      return withStores(config, async (stores) => {
        const registry = new ClientRegistry(stores.clients);
        if (sub === 'list') {
          for (const c of await registry.list()) {
            console.log(`${c.id}\t${c.secretHash ? 'confidential' : 'public'}\t${c.grantTypes.join(',')}\t${c.audience ?? '(default audience)'}`);
          }
          return 0;
        }
        if (!values.id) {
          console.error(`clients ${sub} needs --id`);
          return 2;
        }
        if (sub === 'delete') {
          const deleted = await registry.delete(values.id);
          console.log(deleted ? `deleted client ${values.id}` : `no client ${values.id}`);
          return deleted ? 0 : 1;
        }
        const grants = values.grants.split(',').map((g) => g.trim());
        const unknown = grants.filter((g) => g !== 'password' && g !== 'refresh_token');
        if (unknown.length > 0) {
          console.error(`unsupported grants: ${unknown.join(', ')} (password, refresh_token)`);
          return 2;
        }
        const { client, secret } = await registry.create({
          id: values.id,
          name: values.name,
          grantTypes: grants as GrantType[],
          audience: values.audience ?? null,
          confidential: !values.public,
          now: new Date(),
        });
        console.log(`client_id=${client.id}`);
        if (secret) console.log(`client_secret=${secret}`);
        return 0;
      });
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
    } else if (error instanceof LegacyDatabaseError) {
      console.error(`gatehouse: import failed, nothing written: ${error.message}`);
    } else if (error instanceof AppError) {
      const fields = error.extra.errors?.map((e) => `${e.field} ${e.message}`).join('; ');
      console.error(`gatehouse: ${error.detail}${fields ? `: ${fields}` : ''}`);
    } else {
      console.error(`gatehouse: ${error instanceof Error ? error.message : String(error)}`);
    }
    process.exitCode = error instanceof ConfigError ? 78 : 1;
  },
);
