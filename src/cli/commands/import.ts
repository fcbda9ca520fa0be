/** `gatehouse import --from file:./BOT.sqlite [--dry-run]`: the original service's users and revocations. */
import { parseArgs } from 'node:util';
import { importLegacyUsers } from '../../services/legacy-import.js';
import { legacyPath, openLegacyDatabase } from '../../storage/legacy/prisma-sqlite.js';
import { withServices, type Command } from '../command.js';

export const importCommand: Command = async (args, config) => {
  const { values } = parseArgs({
    args,
    options: { from: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
    strict: true,
  });
  if (!values.from) {
    console.error('import needs --from file:./BOT.sqlite (or a path to the database)');
    return 2;
  }
  const source = legacyPath(values.from);
  if (config.database.kind === 'sqlite' && config.database.path === source) {
    console.error('import: --from is Gatehouse\'s own database; point DATABASE_URL somewhere else');
    return 2;
  }
  // Checked before anything is written, then read batch by batch inside the import's transaction.
  const data = openLegacyDatabase(source);
  const dryRun = values['dry-run'];
  let report;
  try {
    report = await withServices(config, ({ stores, clock }) => importLegacyUsers(stores.imports, data, clock.now(), dryRun, config.jwt.clockSkewSeconds));
  } finally {
    data.close();
  }
  const verb = dryRun ? 'would import' : 'imported';
  console.log(`${dryRun ? '[dry run, nothing written] ' : ''}${data.userCount} users read: ${verb} ${report.imported} (${report.keptIds} with their original id), ${report.alreadyPresent} already present, ${report.conflicts.length} skipped`);
  for (const c of report.conflicts) console.log(`  skipped user ${c.id} (${c.username}): ${c.reason}`);
  console.log(`${verb} ${report.revokedTokens} unexpired blacklisted tokens`);
  if (report.imported === 0 && report.revokedTokens === 0) console.log('nothing new to import');
  return 0;
};
