/** `gatehouse migrate`: applies pending migrations and exits. */
import { withServices, type Command } from '../command.js';

export const migrateCommand: Command = async (_args, config) => {
  // Opening the stores applies pending migrations under a lock.
  await withServices(config, async () => undefined);
  console.log(`migrations applied (${config.database.kind})`);
  return 0;
};
