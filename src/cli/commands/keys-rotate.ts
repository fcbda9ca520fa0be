/**
 * `gatehouse keys rotate [--now]`: for every signing algorithm in use (access tokens' and
 * each OpenID Connect ID-token algorithm that has a key), a new signing key is published at
 * once and signs once the JWKS cache lifetime has passed (`--now`: at once, an emergency);
 * earlier keys keep verifying until their tokens expire.
 */
import { parseArgs } from 'node:util';
import { withServices, type Command } from '../command.js';

export const keysRotateCommand: Command = async (args, config) => {
  const { values } = parseArgs({ args, options: { now: { type: 'boolean', default: false } }, strict: true });
  const rotated = await withServices(config, async ({ keys, keyRings }) => {
    await keys.init();
    return keyRings.rotateAll({ now: values.now });
  });
  for (const { alg, kid, signsFrom } of rotated) {
    if (values.now) {
      console.log(`${alg}: new signing key ${kid} is active and signs now; resource servers with a cached JWKS refuse its tokens until they refetch; earlier keys verify until their tokens expire`);
    } else {
      console.log(`${alg}: new signing key ${kid} is published now and signs from ${signsFrom.toISOString()} (once cached key sets have it); earlier keys verify until their tokens expire`);
    }
  }
  return 0;
};
