/** README.md's configuration table is the declaration in src/config/variables.ts, written out. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { withConfigurationTable } from '../src/config/docs.js';
import { VARIABLES } from '../src/config/variables.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test('the README configuration table is what `npm run docs:config` writes from the declaration', () => {
  assert.equal(README, withConfigurationTable(README), 'README.md is stale: run `npm run docs:config`');
});

test('every variable the source reads from the environment is declared', () => {
  const sources = ['src/config/index.ts', 'src/config/variables.ts'].map((f) => readFileSync(new URL(`../${f}`, import.meta.url), 'utf8'));
  const read = new Set(sources.flatMap((s) => [...s.matchAll(/\b(?:read|str|int|bool|list|oneOf|positiveNumber)\(env, '([A-Z0-9_]+)'/g)].map((m) => m[1]!)));
  assert.ok(read.size >= 40, `found ${read.size} reads: the pattern above no longer matches the source`);
  for (const name of read) assert.ok(name in VARIABLES, `${name} is read but not declared in variables.ts`);
});
