#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * The `gatehouse` command: finds the command (one file each in cli/commands/), loads only
 * that one, and turns failures into one line and an exit code. Every command builds its
 * services through the composition root (composition.ts), as the server does.
 */
import type { Command } from './cli/command.js';
import { describeFailure } from './cli/describe-failure.js';
import { ConfigError, loadConfig, loadDotEnv } from './config/index.js';
import { AppError } from './errors/index.js';
import { LegacyDatabaseError } from './storage/legacy/prisma-sqlite.js';

const USAGE = `Usage: gatehouse <command>

Commands:
  serve                      start the HTTP server (applies migrations first)
  migrate                    apply database migrations and exit
  keys rotate [--now]        publish a new signing key now, sign with it once the JWKS
                             cache lifetime has passed (--now: at once, an emergency that
                             breaks resource servers' caches); old tokens stay valid
  users create --username U --email E (--password-stdin | --password P)
                             create an account (the password follows the policy)
  users mfa-reset --username U
                             remove every second factor and recovery code of a user
                             (they lost their phone and codes); audited
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

/** Command name → its module, loaded on demand (only `serve` loads the HTTP stack). */
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./cli/commands/serve.js')).serveCommand,
  migrate: async () => (await import('./cli/commands/migrate.js')).migrateCommand,
  'keys rotate': async () => (await import('./cli/commands/keys-rotate.js')).keysRotateCommand,
  'users create': async () => (await import('./cli/commands/users-create.js')).usersCreateCommand,
  'users mfa-reset': async () => (await import('./cli/commands/users-mfa-reset.js')).usersMfaResetCommand,
  'clients create': async () => (await import('./cli/commands/clients-create.js')).clientsCreateCommand,
  'clients list': async () => (await import('./cli/commands/clients-list.js')).clientsListCommand,
  'clients delete': async () => (await import('./cli/commands/clients-delete.js')).clientsDeleteCommand,
  import: async () => (await import('./cli/commands/import.js')).importCommand,
  audit: async () => (await import('./cli/commands/audit.js')).auditCommand,
};

/** The command named by the first one or two words, and the arguments after its name. */
function findCommand(argv: string[]): { load: () => Promise<Command>; args: string[] } | undefined {
  const [first = '', second] = argv;
  const two = COMMANDS[`${first} ${second}`];
  if (second !== undefined && two) return { load: two, args: argv.slice(2) };
  const one = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  return one ? { load: one, args: argv.slice(1) } : undefined;
}

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    console.error(`unknown command: ${argv.join(' ')}\n\n${USAGE}`);
    return 2;
  }
  loadDotEnv();
  const config = loadConfig();
  const run = await found.load();
  return run(found.args, config);
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
      console.error(`gatehouse: ${describeFailure(error)}`);
    }
    process.exitCode = error instanceof ConfigError ? 78 : 1;
  },
);
