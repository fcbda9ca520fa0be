/** `gatehouse keys rotate`: a new signing key becomes active; earlier ones keep verifying. */
import { withServices, type Command } from '../command.js';

export const keysRotateCommand: Command = async (_args, config) => {
  // Every algorithm in use: access tokens' and each ID-token algorithm that has a key.
  const kids = await withServices(config, async ({ keys, keyRings }) => {
    await keys.init();
    return keyRings.rotateAll();
  });
  for (const kid of kids) console.log(`new signing key ${kid} is active; earlier keys verify until their tokens expire`);
  return 0;
};
