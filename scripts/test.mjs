#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's built-in runner (through tsx), two files at a
// time on this 2-core machine. Extra arguments narrow the run: `npm test -- test/http`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function collect(target) {
  if (statSync(target).isFile()) return target.endsWith('.test.ts') ? [target] : [];
  return readdirSync(target)
    .sort()
    .flatMap((name) => collect(path.join(target, name)));
}

const targets = process.argv.slice(2);
const files = (targets.length > 0 ? targets : ['test']).flatMap(collect);
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
