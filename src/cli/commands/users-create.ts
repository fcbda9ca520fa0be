/** `gatehouse users create`: an account under the same rules (and audit trail) as POST /register. */
import { parseArgs } from 'node:util';
import { readStdin, withServices, type Command } from '../command.js';

export const usersCreateCommand: Command = async (args, config) => {
  const { values } = parseArgs({
    args,
    options: {
      username: { type: 'string' },
      email: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
    },
    strict: true,
  });
  const { username, email } = values;
  if (!username || !email || (!values.password && !values['password-stdin'])) {
    console.error('users create needs --username, --email and --password-stdin (or --password)');
    return 2;
  }
  const password = values['password-stdin'] ? await readStdin() : (values.password ?? '');
  const user = await withServices(config, ({ registration }) => registration.register({ username, email, password }));
  console.log(`created user ${user.id} (${user.username})`);
  return 0;
};
