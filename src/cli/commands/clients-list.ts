/** `gatehouse clients list`: registered OAuth clients, never their secrets. */
import { parseArgs } from 'node:util';
import { withServices, type Command } from '../command.js';

export const clientsListCommand: Command = async (args, config) => {
  parseArgs({ args, options: {}, strict: true });
  const all = await withServices(config, ({ clients }) => clients.list());
  for (const c of all) {
    // Without --audience its tokens carry JWT_AUDIENCE, but it introspects only tokens issued
    // to it (RFC 7662 §4): it is no resource server of the default audience.
    console.log(`${c.id}\t${c.secretHash ? 'confidential' : 'public'}\t${c.grantTypes.join(',')}\t${c.audience ?? '(no audience of its own: issues JWT_AUDIENCE tokens)'}`);
  }
  return 0;
};
