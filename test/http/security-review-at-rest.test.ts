/**
 * The security review's findings (issue 15) about what the database holds: the import's
 * conflict rule, original tokens after a password change, and signing keys at rest. Every
 * test here failed on the code before its fix. Runs on SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { SignJWT } from 'jose';
import { DIALECT, PASSWORD, buildTestApp, freshIp, login, me, openStoredJwk, refresh, register, sqlRows, sqlWrite, type TestApp } from '../helpers/app.js';
import { isSealed, openJwk, parseKek, type SealedJwk } from '../../src/crypto/key-encryption.js';
import type { LegacyUser } from '../../src/services/ports.js';

const ORIGINAL_SECRET = 'the-original-services-secret-key';

function originalToken(sub: string, type: 'access' | 'refresh', seconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ type }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(sub).setIssuedAt(now).setExpirationTime(now + seconds).sign(new TextEncoder().encode(ORIGINAL_SECRET));
}

async function originalUser(id: number, username: string): Promise<LegacyUser> {
  const passwordHash = (await bcryptHash(Buffer.from(PASSWORD), 4)).replace(/^\$2y\$/, '$2b$');
  return { id, legacyUsername: username, username, usernameKey: username.toLowerCase(), email: `${username}@example.com`, emailKey: `${username}@example.com`.toLowerCase(), passwordHash };
}

function importUsers(app: TestApp, users: LegacyUser[]) {
  return app.stores.imports.importLegacy({ users, revokedTokens: [], now: new Date(), dryRun: false });
}

test('item 12: a user who registered the original username and email before the import is a conflict, not "already present"', async (t) => {
  const app = await buildTestApp(t);
  // Someone registers the victim's name and address in Gatehouse before the import.
  await register(app, { username: 'victim', email: 'victim@example.com' });
  const report = await importUsers(app, [await originalUser(10, 'victim')]);
  assert.equal(report.alreadyPresent, 0, `counted as already present: ${JSON.stringify(report)}`);
  assert.equal(report.conflicts.length, 1);
  assert.match(report.conflicts[0]!.reason, /another account/);
  // A user really imported before is present on the second run.
  const first = await importUsers(app, [await originalUser(11, 'alice')]);
  assert.equal(first.imported, 1);
  const again = await importUsers(app, [await originalUser(11, 'alice')]);
  assert.equal(again.alreadyPresent, 1);
  assert.equal(again.imported, 0);
});

async function resetLink(app: TestApp, email: string): Promise<string> {
  await app.emailFlows!.drain();
  const line = app.logs
    .map((l) => JSON.parse(l) as { msg?: string; mail?: { to: string; text: string } })
    .filter((l) => l.mail?.to === email && /password\/reset/.test(l.mail.text))
    .at(-1);
  const token = /token=([\w-]+)/.exec(line?.mail?.text ?? '')?.[1];
  assert.ok(token, 'a reset mail was logged');
  return token;
}

test('item 2: a password change, a reset and logout-all end every original token of the user', { timeout: 120_000 }, async (t) => {
  const app = await buildTestApp(t, { LEGACY_SECRET_KEY: ORIGINAL_SECRET, RATE_LIMIT_REFRESH_PER_MINUTE: '1000', RATE_LIMIT_FORGOT_PER_HOUR: '1000' });
  const report = await importUsers(app, [await originalUser(21, 'carl'), await originalUser(22, 'dina'), await originalUser(23, 'emil')]);
  assert.equal(report.imported, 3);

  const end = {
    'logout-all': async (name: string) => {
      const { access_token } = await login(app, name);
      const res = await app.app.inject({ method: 'POST', url: '/logout/all', headers: { authorization: `Bearer ${access_token}` } });
      assert.equal(res.statusCode, 200);
    },
    'password change': async (name: string) => {
      const { access_token } = await login(app, name);
      const res = await app.app.inject({
        method: 'POST',
        url: '/password/change',
        headers: { authorization: `Bearer ${access_token}` },
        payload: { current_password: PASSWORD, new_password: 'Another-Pass-42' },
        remoteAddress: freshIp(),
      });
      assert.equal(res.statusCode, 200, res.body);
    },
    'password reset': async (name: string) => {
      const forgot = await app.app.inject({ method: 'POST', url: '/password/forgot', payload: { email: `${name}@example.com` }, remoteAddress: freshIp() });
      assert.equal(forgot.statusCode, 202);
      const token = await resetLink(app, `${name}@example.com`);
      const res = await app.app.inject({ method: 'POST', url: '/password/reset', payload: { token, new_password: 'Another-Pass-42' } });
      assert.equal(res.statusCode, 200, res.body);
    },
  };
  for (const [[how, action], name] of Object.entries(end).map((e, i) => [e, ['carl', 'dina', 'emil'][i]!] as const)) {
    const access = await originalToken(name, 'access', 20 * 60);
    const stolenRefresh = await originalToken(name, 'refresh', 7 * 86_400);
    assert.equal((await me(app, access)).statusCode, 200, `${how}: the original access token works before`);
    await action(name);
    assert.equal((await me(app, access)).statusCode, 401, `${how}: an original access token outlived it`);
    const exchanged = await refresh(app, stolenRefresh);
    assert.equal(exchanged.statusCode, 401, `${how}: a stolen original refresh token bought a session after it`);
  }
});

/** The raw stored private JWK text of every asymmetric signing key, as a backup holds it. */
async function storedPrivateKeys(app: TestApp): Promise<Array<{ kid: string; private_jwk: string }>> {
  return sqlRows<{ kid: string; private_jwk: string }>(app.dir, "SELECT kid, private_jwk FROM signing_keys WHERE alg = 'EdDSA'");
}

test('item 5: signing keys are encrypted at rest (AES-256-GCM, kid as AAD) under a key kept out of the database', async (t) => {
  const app = await buildTestApp(t, { KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') });
  await register(app, { username: 'fay' });
  const tokens = await login(app, 'fay');
  const rows = await storedPrivateKeys(app);
  assert.ok(rows.length >= 1);
  for (const row of rows) {
    const stored = JSON.parse(row.private_jwk) as Record<string, unknown>;
    assert.equal(stored.d, undefined, `the private key of ${row.kid} is in clear in the database`);
    assert.equal(stored.enc, 'A256GCM');
  }
  const [row] = rows as [{ kid: string; private_jwk: string }];
  const kek = parseKek(app.config.keyEncryption.key!)!;
  assert.equal(typeof openJwk(kek, row.kid, JSON.parse(row.private_jwk) as SealedJwk).d, 'string', 'the key-encryption key opens it');
  // The kid is bound in as associated data: a sealed key moved to another row does not open.
  assert.throws(() => openJwk(kek, 'another-kid', JSON.parse(row.private_jwk) as SealedJwk));
  assert.throws(() => openJwk(Buffer.alloc(32, 8), row.kid, JSON.parse(row.private_jwk) as SealedJwk), 'another key-encryption key');
  assert.equal((await me(app, tokens.access_token)).statusCode, 200);
});

test('item 5: without KEY_ENCRYPTION_KEY, a 0600 key file beside the database; plaintext keys sealed on the next start; the SQLite file is 0600', async (t) => {
  const noKek = { KEY_ENCRYPTION_KEY: '' }; // the test helpers set one by default
  const app = await buildTestApp(t, noKek);
  await register(app, { username: 'gus' });
  for (const row of await storedPrivateKeys(app)) {
    assert.equal((JSON.parse(row.private_jwk) as Record<string, unknown>).d, undefined, 'sealed without KEY_ENCRYPTION_KEY too');
  }
  // A database from before this change: its key in clear. The next start seals it.
  const tokens = await login(app, 'gus');
  const [row] = (await storedPrivateKeys(app)) as [{ kid: string; private_jwk: string }];
  const clear = JSON.stringify(openStoredJwk(app, row.kid, row.private_jwk));
  await app.app.close();
  await sqlWrite(app.dir, 'UPDATE signing_keys SET private_jwk = $1 WHERE kid = $2', [clear, row.kid]);
  const restarted = await buildTestApp(t, noKek, { dir: app.dir });
  const [after] = (await storedPrivateKeys(restarted)) as [{ kid: string; private_jwk: string }];
  assert.ok(isSealed(JSON.parse(after.private_jwk)), 'sealed on the next start');
  assert.equal((await me(restarted, tokens.access_token)).statusCode, 200, 'the same key, still verifying');
  if (DIALECT === 'sqlite') {
    assert.equal(statSync(app.dbFile).mode & 0o777, 0o600, 'the database file is readable by its owner only');
    assert.equal(statSync(`${app.dbFile}.key`).mode & 0o777, 0o600, 'the key file beside it likewise');
  }
});
