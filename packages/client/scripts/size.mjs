// Prints the gzipped size of the built JavaScript and fails the build above the budget.
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET = 5 * 1024;
const dir = new URL('../dist/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
// One concatenation: what a bundler would ship (gzip of the parts separately would overcount).
const source = files.map((f) => readFileSync(new URL(f, dir))).join('\n');
const gz = gzipSync(source, { level: 9 }).length;
console.log(`@gatehouse/client: ${files.length} files, ${source.length} bytes, ${gz} bytes gzipped (budget ${BUDGET})`);
if (gz > BUDGET) {
  console.error(`@gatehouse/client is over its size budget: ${gz} > ${BUDGET} bytes gzipped`);
  process.exit(1);
}
