/**
 * `gatehouse keys rotate [--now]`: a new signing key is published at once and signs once
 * the JWKS cache lifetime has passed (`--now`: at once, an emergency); earlier keys keep
 * verifying until their tokens expire.
 */
import { parseArgs } from 'node:util';
import { withServices, type Command } from '../command.js';

export const keysRotateCommand: Command = async (args, config) => {
  const { values } = parseArgs({ args, options: { now: { type: 'boolean', default: false } }, strict: true });
  const { kid, signsFrom } = await withServices(config, async ({ keys }) => {
    await keys.init();
    return keys.rotate({ now: values.now });
  });
  if (values.now) {
    console.log(`new signing key ${kid} is active and signs now; resource servers with a cached JWKS refuse its tokens until they refetch; earlier keys verify until their tokens expire`);
  } else {
    console.log(`new signing key ${kid} is published now and signs from ${signsFrom.toISOString()} (once cached key sets have it); earlier keys verify until their tokens expire`);
  }
  return 0;
};
