/** `gatehouse users mfa-reset`: removes a user's second factors and recovery codes (audited). */
import { parseArgs } from 'node:util';
import { withServices, type Command } from '../command.js';

export const usersMfaResetCommand: Command = async (args, config) => {
  const { values } = parseArgs({ args, options: { username: { type: 'string' } }, strict: true });
  const { username } = values;
  if (!username) {
    console.error('users mfa-reset needs --username');
    return 2;
  }
  const reset = await withServices(config, ({ mfa }) => mfa.resetUser(username));
  if (!reset) {
    console.error(`no user ${username}`);
    return 1;
  }
  console.log(`removed ${reset.removed} second factor(s) and the recovery codes of user ${reset.userId}; the password alone logs in now`);
  return 0;
};
