/** `gatehouse keys rotate`: a new signing key becomes active; earlier ones keep verifying. */
import { withServices, type Command } from '../command.js';

export const keysRotateCommand: Command = async (_args, config) => {
  const kid = await withServices(config, async ({ keys }) => {
    await keys.init();
    return keys.rotate();
  });
  console.log(`new signing key ${kid} is active; earlier keys verify until their tokens expire`);
  return 0;
};
