/**
 * The key file beside the database: processes starting at once (the CLI beside a server,
 * two instances) must all end up with the one KEK, never an empty or a second file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function kekOf(file: string): Promise<string> {
  const script = `import { keyFileKek } from './src/crypto/key-encryption.ts'; process.stdout.write(keyFileKek(${JSON.stringify(file)}).toString('hex'));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

test('eight processes making the key file at once all read one complete KEK; no temporary file is left', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-keyfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'db.sqlite.key');
  const keks = await Promise.all(Array.from({ length: 8 }, () => kekOf(file)));
  assert.equal(new Set(keks).size, 1, keks.join(' '));
  assert.match(keks[0]!, /^[0-9a-f]{64}$/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['db.sqlite.key']);
});
