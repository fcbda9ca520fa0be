/** `npm run docs:config`: rewrites README.md's configuration table from src/config/variables.ts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { withConfigurationTable } from '../src/config/docs.js';

const README = new URL('../README.md', import.meta.url);
const before = readFileSync(README, 'utf8');
const after = withConfigurationTable(before);
writeFileSync(README, after);
console.log(after === before ? 'README.md configuration table already up to date' : 'README.md configuration table rewritten');
