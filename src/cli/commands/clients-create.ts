/** `gatehouse clients create`: registers an OAuth client and prints its secret once. */
import { parseArgs } from 'node:util';
import type { GrantType } from '../../domain/types.js';
import { withServices, type Command } from '../command.js';

const GRANTS: readonly GrantType[] = ['password', 'refresh_token'];

export const clientsCreateCommand: Command = async (args, config) => {
  const { values } = parseArgs({
    args,
    options: {
      id: { type: 'string' },
      name: { type: 'string' },
      grants: { type: 'string', default: 'password,refresh_token' },
      audience: { type: 'string' },
      public: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const id = values.id;
  if (!id) {
    console.error('clients create needs --id');
    return 2;
  }
  const grants = values.grants.split(',').map((g) => g.trim());
  const unknown = grants.filter((g) => !(GRANTS as readonly string[]).includes(g));
  if (unknown.length > 0) {
    console.error(`unsupported grants: ${unknown.join(', ')} (${GRANTS.join(', ')})`);
    return 2;
  }
  const { client, secret } = await withServices(config, ({ clients, clock }) =>
    clients.create({
      id,
      name: values.name,
      grantTypes: grants as GrantType[],
      audience: values.audience ?? null,
      confidential: !values.public,
      now: clock.now(),
    }),
  );
  console.log(`client_id=${client.id}`);
  if (secret) console.log(`client_secret=${secret}`);
  return 0;
};
