/** `gatehouse clients delete --id ID`: removes a client. */
import { parseArgs } from 'node:util';
import { withServices, type Command } from '../command.js';

export const clientsDeleteCommand: Command = async (args, config) => {
  const { values } = parseArgs({ args, options: { id: { type: 'string' } }, strict: true });
  const id = values.id;
  if (!id) {
    console.error('clients delete needs --id');
    return 2;
  }
  const deleted = await withServices(config, ({ clients }) => clients.delete(id));
  console.log(deleted ? `deleted client ${id}` : `no client ${id}`);
  return deleted ? 0 : 1;
};
