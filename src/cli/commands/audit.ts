/** `gatehouse audit`: the security audit trail, newest first. */
import { parseArgs } from 'node:util';
import { withServices, type Command } from '../command.js';

export const auditCommand: Command = async (args, config) => {
  const { values } = parseArgs({
    args,
    options: {
      user: { type: 'string' },
      type: { type: 'string' },
      limit: { type: 'string', default: '50' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const limit = Number(values.limit);
  const userId = values.user === undefined ? undefined : Number(values.user);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000 || (userId !== undefined && !Number.isInteger(userId))) {
    console.error('audit: --limit takes 1-10000 and --user a numeric user id');
    return 2;
  }
  const entries = await withServices(config, ({ stores }) => stores.audit.list({ userId, type: values.type, limit }));
  for (const e of entries) {
    if (values.json) console.log(JSON.stringify({ ...e, at: e.at.toISOString() }));
    else {
      const detail = e.detail ? ` ${JSON.stringify(e.detail)}` : '';
      console.log(`${e.at.toISOString()}  ${e.type.padEnd(24)} user=${e.userId ?? '-'} ip=${e.ip ?? '-'}${detail}`);
    }
  }
  return 0;
};
