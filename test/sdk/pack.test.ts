/**
 * The packages as a user gets them: `npm pack` (which builds them), installed from the
 * tarballs into a scratch project, type-checked there with `tsc --noEmit` and used from
 * there against a live Gatehouse. Proves the exports maps, the types and the files lists.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PASSWORD, buildTestApp, register } from '../helpers/app.js';
import { ROOT, freePort } from '../helpers/processes.js';

const run = promisify(execFile);
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

test('npm pack: both tarballs install into a scratch project, type-check there and work', { timeout: 600_000 }, async (t) => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'gatehouse-pack-'));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));

  const packed = await run('npm', ['pack', '--json', '--pack-destination', scratch, '-w', 'packages/client', '-w', 'packages/node'], { cwd: ROOT, maxBuffer: 16 << 20 });
  const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
  // The client's build prints its gzipped size and fails above 5 KB.
  const size = /@gatehouse\/client: .* (\d+) bytes gzipped \(budget 5120\)/.exec(packed.stdout + packed.stderr);
  assert.ok(size, `the build printed the client's size:\n${packed.stderr}`);
  assert.ok(Number(size[1]) < 5120);
  t.diagnostic(`@gatehouse/client: ${size[1]} bytes gzipped`);
  for (const pkg of info) {
    const files = pkg.files.map((f) => f.path).sort();
    assert.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts') && files.includes('README.md'), `${pkg.name}: ${files.join(', ')}`);
    assert.ok(!files.some((f) => f.startsWith('src/') || f.includes('test')), `${pkg.name} ships only dist and README: ${files.join(', ')}`);
  }

  writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...info.map((p) => path.join(scratch, p.filename))], { cwd: scratch, maxBuffer: 16 << 20 });

  // Types: a file that uses both packages compiles; a misuse does not (the types are real, not any).
  writeFileSync(
    path.join(scratch, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: [], strict: true, noEmit: true, skipLibCheck: true }, include: ['use.ts'] }),
  );
  writeFileSync(
    path.join(scratch, 'use.ts'),
    `import { createClient, GatehouseError, type PasskeyRegistered, type User } from '@gatehouse/client';
import { createVerifier, createRevocationFeed, expressAuth, fastifyAuth, TokenError, type AccessTokenClaims } from '@gatehouse/node';
const client = createClient({ baseUrl: 'http://127.0.0.1', storage: 'local' });
export async function f(): Promise<User> {
  const r = await client.login({ username: 'a', password: 'b' });
  if (r.mfaRequired) await client.loginMfa({ mfaToken: r.mfaToken, code: '123456' });
  return client.me();
}
export async function p(signal: AbortSignal): Promise<string[] | undefined> {
  await client.loginWithPasskey({ mediation: 'conditional', signal });
  const registered: PasskeyRegistered = await client.registerPasskey({ password: 'b', name: 'Laptop' });
  return registered.recovery_codes;
}
const feed = createRevocationFeed({ issuer: 'http://x', clientId: 'a', clientSecret: 'b', whenDown: 'introspect' });
const verifier = createVerifier({ issuer: 'http://x', audience: 'api', revocations: feed });
export const mw = expressAuth({ verifier, scopes: ['a'] });
export const plugin = fastifyAuth;
export async function g(token: string): Promise<string | undefined> {
  const claims: AccessTokenClaims = await verifier.verify(token);
  return claims.sid;
}
export const errors = [GatehouseError, TokenError];
`,
  );
  await run(process.execPath, [TSC, '-p', '.'], { cwd: scratch });
  writeFileSync(path.join(scratch, 'use.ts'), `import { createClient } from '@gatehouse/client';\ncreateClient({ storage: 'local' });\n`);
  await assert.rejects(run(process.execPath, [TSC, '-p', '.'], { cwd: scratch }), (e: { stdout: string }) => /baseUrl/.test(e.stdout));

  // Runtime: import from the scratch project (exports map), deep imports are closed, and both work.
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = await buildTestApp(t, { PUBLIC_URL: url });
  await register(app, { username: 'packed_user' });
  await app.app.listen({ host: '127.0.0.1', port });
  writeFileSync(
    path.join(scratch, 'run.mjs'),
    `import { createClient } from '@gatehouse/client';
import { createVerifier } from '@gatehouse/node';
const url = process.argv[2];
const client = createClient({ baseUrl: url });
await client.login({ username: 'packed_user', password: process.argv[3] });
const me = await client.me();
const claims = await createVerifier({ issuer: url, audience: 'gatehouse' }).verify(await client.accessToken());
let deep = 'open';
try { await import('@gatehouse/node/dist/verifier.js'); } catch (e) { deep = e.code; }
console.log(JSON.stringify({ me: me.username, sub: claims.sub, deep }));
`,
  );
  const out = await run(process.execPath, ['run.mjs', url, PASSWORD], { cwd: scratch });
  const result = JSON.parse(out.stdout);
  assert.equal(result.me, 'packed_user');
  assert.equal(typeof result.sub, 'string');
  assert.equal(result.deep, 'ERR_PACKAGE_PATH_NOT_EXPORTED');
  // The installed copy is the packed one, not a link to the workspace.
  assert.match(readFileSync(path.join(scratch, 'node_modules/@gatehouse/node/package.json'), 'utf8'), /"name": "@gatehouse\/node"/);
});
