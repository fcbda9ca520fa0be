/** `gatehouse clients list`: registered OAuth clients, never their secrets. */
import { parseArgs } from 'node:util';
import { withServices, type Command } from '../command.js';

export const clientsListCommand: Command = async (args, config) => {
  parseArgs({ args, options: {}, strict: true });
  const all = await withServices(config, ({ clients }) => clients.list());
  for (const c of all) {
    console.log(`${c.id}\t${c.secretHash ? 'confidential' : 'public'}\t${c.grantTypes.join(',')}\t${c.audience ?? '(default audience)'}`);
  }
  return 0;
};
