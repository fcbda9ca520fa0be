/**
 * The store contract: every port method of services/ports.ts, with its edge cases, run by
 * the same code against a real SQLite file and a real PostgreSQL schema (scripts/test.mjs
 * runs test/storage on both).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewSession, NewUser, RotationRequest, SigningKeyRecord } from '../../src/services/ports.js';
import { openTestStores } from '../helpers/stores.js';
import { DIALECT, sqlWrite } from '../helpers/app.js';
import { DEFAULT_SESSION_RECORD_LIFETIME_MS } from '../../src/storage/drizzle/stores/revocations.js';

const HOUR = 3_600_000;
let seq = 0;
const newUser = (name = `user${++seq}`): NewUser => ({
  username: name,
  usernameKey: name.toLowerCase(),
  email: `${name}@Example.com`,
  emailKey: `${name.toLowerCase()}@example.com`,
  passwordHash: `hash-${name}`,
  createdAt: new Date(1_700_000_000_000),
});
const newSession = (userId: number, refreshHash = `rh${++seq}`, at = Date.now(), ttl = HOUR): NewSession => ({
  id: `sid${++seq}`,
  userId,
  clientId: 'gatehouse',
  refreshHash,
  userAgent: 'ua',
  ip: '10.0.0.1',
  createdAt: new Date(at),
  expiresAt: new Date(at + ttl),
});

test('users: create, find by id / login key / legacy name, duplicates, update, verify, delete', async (t) => {
  const { stores } = await openTestStores(t);
  const u = stores.users;
  const alice = await u.create(newUser('Alice'));
  assert.deepEqual(alice, { id: alice.id, username: 'Alice', email: 'Alice@Example.com', emailVerified: false, passwordHash: 'hash-Alice', createdAt: new Date(1_700_000_000_000) });
  assert.deepEqual(await u.findById(alice.id), alice);
  assert.deepEqual(await u.findByLogin('alice'), alice);
  assert.deepEqual(await u.findByLogin('alice@example.com'), alice);
  assert.equal(await u.findByLogin('Alice'), undefined, 'keys are looked up as given (already normalised)');
  assert.equal(await u.findById(alice.id + 1000), undefined);
  assert.equal(await u.findByLegacyUsername('Alice'), undefined, 'only imported users have a legacy name');

  await assert.rejects(u.create({ ...newUser('x1'), usernameKey: 'alice' }), (e: unknown) => (e as { field?: string }).field === 'username');
  await assert.rejects(u.create({ ...newUser('x2'), emailKey: 'alice@example.com' }), (e: unknown) => (e as { field?: string }).field === 'email');

  await u.updatePasswordHash(alice.id, 'new-hash');
  assert.equal((await u.findById(alice.id))!.passwordHash, 'new-hash');

  assert.equal(await u.markEmailVerified(alice.id, 'other@example.com'), false, 'only while the account has that address');
  assert.equal(await u.markEmailVerified(alice.id, 'alice@example.com'), true);
  assert.equal((await u.findById(alice.id))!.emailVerified, true);

  const s = await stores.sessions.create(newSession(alice.id));
  assert.equal(await u.delete(alice.id), true);
  assert.equal(await u.delete(alice.id), false, 'gone already');
  assert.equal(await u.findById(alice.id), undefined);
  assert.equal(await stores.sessions.findByRefreshHash(s.id), undefined);
  assert.deepEqual(await stores.sessions.listActive(alice.id, new Date()), [], 'sessions go with the user');
  // The names are free again.
  await u.create(newUser('Alice'));
});

test('concurrent creates of one username: exactly one wins', async (t) => {
  const { stores } = await openTestStores(t);
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => stores.users.create({ ...newUser(`race${i}`), usernameKey: 'race' })));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(results.every((r) => r.status === 'fulfilled' || (r.reason as Error).name === 'DuplicateError'));
});

test('sessions: create, find, revoke (once), revokeOwned, revokeAllForUser with keep, listActive at the clock boundary', async (t) => {
  const { stores } = await openTestStores(t);
  const s = stores.sessions;
  const a = await stores.users.create(newUser());
  const b = await stores.users.create(newUser());
  const now = Date.now();
  const one = await s.create(newSession(a.id, 'h-one', now - 2000));
  const two = await s.create(newSession(a.id, 'h-two', now - 1000));
  const theirs = await s.create(newSession(b.id, 'h-theirs', now));
  assert.equal(one.generation, 0);
  assert.equal(one.revokedAt, null);
  assert.deepEqual(one.lastUsedAt, one.createdAt);
  assert.equal((await s.findByRefreshHash('h-one'))?.id, one.id);
  assert.equal(await s.findByRefreshHash('nope'), undefined);
  await assert.rejects(s.create({ ...newSession(a.id), refreshHash: 'h-one' }), 'a refresh hash is unique');

  assert.deepEqual((await s.listActive(a.id, new Date(now))).map((x) => x.id), [two.id, one.id], 'newest first');
  // Expiry is exclusive: at expires_at the session is over.
  assert.deepEqual((await s.listActive(a.id, one.expiresAt)).map((x) => x.id), [two.id]);

  assert.equal(await s.revokeOwned(theirs.id, a.id, new Date(now), 'x'), false, 'not yours');
  assert.equal(await s.revokeOwned('missing', a.id, new Date(now), 'x'), false);
  assert.equal(await s.revokeOwned(one.id, a.id, one.expiresAt, 'x'), false, 'expired');
  assert.equal(await s.revokeOwned(one.id, a.id, new Date(now), 'revoked_by_user'), true);
  assert.equal(await s.revoke(one.id, new Date(now), 'again'), false, 'already revoked');
  assert.equal(await s.revoke('missing', new Date(now), 'x'), false);

  const three = await s.create(newSession(a.id));
  assert.equal(await s.revokeAllForUser(a.id, new Date(now), 'password_changed', three.id), 1, 'only `two`: one is revoked already, three is kept');
  assert.deepEqual((await s.listActive(a.id, new Date(now))).map((x) => x.id), [three.id]);
  assert.equal(await s.revokeAllForUser(a.id, new Date(now), 'logout_all'), 1);
  assert.equal((await s.listActive(b.id, new Date(now))).length, 1, 'nobody else\'s');
  assert.equal(await s.revoke(theirs.id, new Date(now), 'logout'), true);
});

test('sessions: the revocation check loads the user of a live session whose token id is not revoked', async (t) => {
  const { stores } = await openTestStores(t);
  const user = await stores.users.create(newUser());
  const now = Date.now();
  const live = await stores.sessions.create(newSession(user.id, undefined, now));
  const found = await stores.sessions.findLiveSessionUser(live.id, 'jti-1', new Date(now));
  assert.deepEqual(found, await stores.users.findById(user.id));
  // Many at once (batched on PostgreSQL): each gets its own answer.
  const answers = await Promise.all([
    stores.sessions.findLiveSessionUser(live.id, 'jti-1', new Date(now)),
    stores.sessions.findLiveSessionUser('missing', 'jti-1', new Date(now)),
    stores.sessions.findLiveSessionUser(live.id, 'jti-1', live.expiresAt),
  ]);
  assert.deepEqual(answers.map((a) => a?.id), [user.id, undefined, undefined], 'unknown session; expired at expires_at');
  assert.equal(await stores.revokedTokens.revoke('jti-1', new Date(now + HOUR)), true);
  assert.equal(await stores.sessions.findLiveSessionUser(live.id, 'jti-1', new Date(now)), undefined, 'token id revoked');
  assert.ok(await stores.sessions.findLiveSessionUser(live.id, 'jti-2', new Date(now)));
  await stores.sessions.revoke(live.id, new Date(now), 'logout');
  assert.equal(await stores.sessions.findLiveSessionUser(live.id, 'jti-2', new Date(now)), undefined, 'session revoked');
});

function rotation(presentedHash: string, childHash: string, now: Date, decide: RotationRequest['decide'] = () => ({ kind: 'rotate' })): RotationRequest {
  return { presentedHash, now, childHash, childSeal: `seal-${childHash}`, childExpiresAt: new Date(now.getTime() + 2 * HOUR), decide };
}

test('sessions.rotate: current, previous and retired hashes, each decision, unknown tokens', async (t) => {
  const { stores } = await openTestStores(t);
  const user = await stores.users.create(newUser());
  const session = await stores.sessions.create(newSession(user.id, 'r0'));
  const now = new Date(Date.now() + 1000);
  const matches: string[] = [];
  const record: RotationRequest['decide'] = (match) => (matches.push(match), { kind: 'rotate' });

  assert.deepEqual(await stores.sessions.rotate(rotation('unknown', 'x', now)), { found: false });
  const first = await stores.sessions.rotate(rotation('r0', 'r1', now, record));
  assert.ok(first.found);
  assert.equal(first.session.generation, 1);
  assert.deepEqual(first.session.expiresAt, new Date(now.getTime() + 2 * HOUR), 'the lifetime slides');
  assert.deepEqual(first.session.rotatedAt, now);
  assert.equal((await stores.sessions.findByRefreshHash('r1'))?.id, session.id);
  assert.equal(await stores.sessions.findByRefreshHash('r0'), undefined, 'only the current hash');
  await stores.sessions.rotate(rotation('r1', 'r2', now, record));

  // r1 is now the previous hash: a replay returns the current child's seal and touches the session.
  const later = new Date(now.getTime() + 500);
  const replay = await stores.sessions.rotate(rotation('r1', 'unused', later, (match) => (matches.push(match), { kind: 'replay' })));
  assert.ok(replay.found && replay.seal === 'seal-r2');
  assert.equal(replay.session.generation, 2);
  // r0 is retired: reuse revokes the family.
  const reuse = await stores.sessions.rotate(rotation('r0', 'unused', later, (match) => (matches.push(match), { kind: 'reuse' })));
  assert.ok(reuse.found && reuse.decision.kind === 'reuse');
  assert.deepEqual(reuse.session.revokedAt, later);
  assert.deepEqual(matches, ['current', 'current', 'previous', 'retired']);
  assert.equal((await stores.sessions.listActive(user.id, later)).length, 0);
  // Refused: nothing changes.
  const refused = await stores.sessions.rotate(rotation('r2', 'r3', later, () => ({ kind: 'refuse', reason: 'revoked' })));
  assert.ok(refused.found && refused.decision.kind === 'refuse');
  assert.ok(await stores.sessions.findByRefreshHash('r2'));
});

test('sessions.rotate: concurrent rotations of one token are serialised (one rotates, the rest see its result)', async (t) => {
  const { stores } = await openTestStores(t);
  const user = await stores.users.create(newUser());
  await stores.sessions.create(newSession(user.id, 'c0'));
  const now = new Date(Date.now() + 1000);
  const outcomes = await Promise.all(
    Array.from({ length: 8 }, (_, i) => stores.sessions.rotate(rotation('c0', `c1-${i}`, now, (match) => (match === 'current' ? { kind: 'rotate' } : { kind: 'replay' })))),
  );
  const rotated = outcomes.filter((o) => o.found && o.decision.kind === 'rotate');
  assert.equal(rotated.length, 1);
  assert.ok(outcomes.every((o) => o.found && o.session.generation === 1));
});

test('sessions.prune: expired and revoked before the cut go, and their refresh-token hashes find no session; the rest stay', async (t) => {
  const { stores } = await openTestStores(t);
  const user = await stores.users.create(newUser());
  const cut = Date.now() - HOUR;
  const expired = await stores.sessions.create(newSession(user.id, undefined, cut - 2 * HOUR, HOUR));
  const atCut = await stores.sessions.create(newSession(user.id, undefined, cut - HOUR, HOUR)); // expires exactly at the cut
  const revokedOld = await stores.sessions.create(newSession(user.id, 'p0', cut - 10, 10 * HOUR));
  await stores.sessions.rotate(rotation('p0', 'p1', new Date(cut - 5)));
  await stores.sessions.rotate(rotation('p1', 'p2', new Date(cut - 4)));
  await stores.sessions.revoke(revokedOld.id, new Date(cut - 1), 'logout');
  const revokedRecent = await stores.sessions.create(newSession(user.id));
  await stores.sessions.revoke(revokedRecent.id, new Date(), 'logout');
  const live = await stores.sessions.create(newSession(user.id));

  assert.equal(await stores.sessions.prune(new Date(cut)), 2);
  const left = new Set((await stores.sessions.listActive(user.id, new Date(0))).map((s) => s.id));
  assert.ok(!left.has(expired.id) && !left.has(revokedOld.id));
  assert.ok(left.has(atCut.id), 'strictly before the cut');
  assert.ok(left.has(live.id));
  assert.equal(await stores.sessions.revoke(revokedRecent.id, new Date(), 'x'), false, 'recently revoked: kept (still revoked)');
  // Its hashes outlive the session (until they expire themselves) but find nothing:
  // presenting one is unknown now, not reuse.
  assert.deepEqual(await stores.sessions.rotate(rotation('p0', 'x', new Date())), { found: false });
  assert.deepEqual(await stores.sessions.rotate(rotation('p1', 'x', new Date())), { found: false });
  assert.equal(await stores.sessions.prune(new Date(cut)), 0, 'nothing left to do');
});

test('sessions.prune: a refresh-token hash goes once it has expired; the session and unexpired ones stay', async (t) => {
  const { stores } = await openTestStores(t);
  const user = await stores.users.create(newUser());
  const t0 = Date.now();
  await stores.sessions.create(newSession(user.id, 'q0', t0, 1000)); // q0 expires at t0+1000
  await stores.sessions.rotate(rotation('q0', 'q1', new Date(t0 - 2 * HOUR + 2000))); // q1 expires at t0+2000
  await stores.sessions.rotate(rotation('q1', 'q2', new Date(t0 - 2 * HOUR + 4000))); // q2 expires at t0+4000
  await stores.sessions.rotate(rotation('q2', 'q3', new Date(t0))); // q3, current, expires at t0+2h
  assert.equal(await stores.sessions.prune(new Date(t0 + 3000)), 0, 'the session stays');
  const seen: string[] = [];
  const present = (hash: string) => stores.sessions.rotate(rotation(hash, 'x', new Date(t0), (match) => (seen.push(match), { kind: 'refuse', reason: 'revoked' })));
  assert.deepEqual(await present('q0'), { found: false }, 'q0 forgotten');
  assert.deepEqual(await present('q1'), { found: false }, 'q1 forgotten');
  assert.ok((await present('q2')).found);
  assert.ok((await present('q3')).found);
  assert.deepEqual(seen, ['previous', 'current'], 'q2 still found (the previous token), and the current one');
});

test('revoked tokens: revoke once, isRevoked, prune strictly before now', async (t) => {
  const { stores } = await openTestStores(t);
  const r = stores.revokedTokens;
  const now = Date.now();
  assert.equal(await r.isRevoked('a'), false);
  assert.equal(await r.revoke('a', new Date(now - 1)), true);
  assert.equal(await r.revoke('a', new Date(now + HOUR)), false, 'already revoked');
  assert.equal(await r.revoke('b', new Date(now)), true);
  assert.equal(await r.revoke('c', new Date(now + HOUR)), true);
  assert.equal(await r.isRevoked('a'), true);
  const concurrent = await Promise.all(Array.from({ length: 5 }, () => r.revoke('d', new Date(now + HOUR))));
  assert.equal(concurrent.filter(Boolean).length, 1, 'exactly one call revoked it');
  assert.equal(await r.prune(new Date(now)), 1, 'a only: b expires exactly now');
  assert.deepEqual([await r.isRevoked('a'), await r.isRevoked('b'), await r.isRevoked('c')], [false, true, true]);
});

test('email tokens: consume once, by purpose, before expiry; invalidateAll; prune', async (t) => {
  const { stores } = await openTestStores(t);
  const e = stores.emailTokens;
  const user = await stores.users.create(newUser());
  const now = Date.now();
  const token = (hash: string, purpose: 'verify_email' | 'reset_password', expiresAt: number) =>
    e.create({ hash, userId: user.id, purpose, email: 'a@example.com', createdAt: new Date(now), expiresAt: new Date(expiresAt) });
  await token('v1', 'verify_email', now + HOUR);
  await token('r1', 'reset_password', now + HOUR);
  await token('r2', 'reset_password', now + HOUR);
  await token('old', 'reset_password', now - HOUR);
  await assert.rejects(token('v1', 'verify_email', now + HOUR), 'hashes are unique');

  assert.equal(await e.consume('v1', 'reset_password', new Date(now)), undefined, 'other purpose');
  assert.equal(await e.consume('unknown', 'verify_email', new Date(now)), undefined);
  assert.equal(await e.consume('v1', 'verify_email', new Date(now + HOUR)), undefined, 'expired at expires_at');
  assert.deepEqual(await e.consume('v1', 'verify_email', new Date(now)), { userId: user.id, email: 'a@example.com' });
  assert.equal(await e.consume('v1', 'verify_email', new Date(now)), undefined, 'used');

  const racing = await Promise.all(Array.from({ length: 6 }, () => e.consume('r1', 'reset_password', new Date(now))));
  assert.equal(racing.filter(Boolean).length, 1, 'of concurrent uses exactly one succeeds');

  await e.invalidateAll(user.id, 'reset_password', new Date(now));
  assert.equal(await e.consume('r2', 'reset_password', new Date(now)), undefined, 'superseded');
  assert.equal(await e.prune(new Date(now)), 1, 'only the expired one');
});

test('clients: create, duplicate, find, list, delete', async (t) => {
  const { stores } = await openTestStores(t);
  const c = stores.clients;
  const client = {
    id: 'svc',
    name: 'Service',
    secretHash: 'sh',
    grantTypes: ['password' as const],
    audience: 'api',
    createdAt: new Date(1_700_000_000_000),
    redirectUris: ['https://a.example/cb', 'http://localhost:3000/cb'],
    postLogoutRedirectUris: ['https://a.example/'],
    scopes: ['openid', 'email'],
    firstParty: true,
    idTokenAlg: 'ES256' as const,
    backchannelLogoutUri: 'https://a.example/bcl',
  };
  await c.create(client);
  await assert.rejects(c.create({ ...client, name: 'Other' }), (e: unknown) => (e as { field?: string }).field === 'client');
  assert.deepEqual(await c.find('svc'), client);
  assert.equal(await c.find('nope'), undefined);
  await c.create({ ...client, id: 'pub', secretHash: null, audience: null, grantTypes: ['password', 'refresh_token'] });
  assert.deepEqual((await c.list()).map((x) => x.id).sort(), ['pub', 'svc']);
  assert.equal(await c.delete('svc'), true);
  assert.equal(await c.delete('svc'), false);
});

test('signing keys: ensureActive keeps the first active key; rotate retires it atomically', async (t) => {
  const { stores } = await openTestStores(t);
  const k = stores.signingKeys;
  const key = (kid: string, at: number): SigningKeyRecord => ({ kid, alg: 'EdDSA', publicJwk: { kty: 'OKP', x: kid }, privateJwk: { kty: 'OKP', d: kid }, createdAt: new Date(at), retiredAt: null, expiresAt: null });
  const [a, b] = await Promise.all([k.ensureActive(key('k1', 1000)), k.ensureActive(key('k2', 2000))]);
  assert.equal(a.kid, b.kid, 'two instances starting at once agree on one key');
  const first = a.kid;
  assert.equal((await k.ensureActive(key('k3', 3000))).kid, first);
  await k.rotate(key('k4', 4000), new Date(9000));
  const all = await k.list();
  assert.deepEqual(all.map((x) => x.kid).sort(), [first, 'k4'].sort());
  const retired = all.find((x) => x.kid === first)!;
  assert.deepEqual([retired.retiredAt, retired.expiresAt], [new Date(4000), new Date(9000)]);
  assert.equal((await k.ensureActive(key('k5', 5000))).kid, 'k4');
  assert.deepEqual(all.find((x) => x.kid === 'k4')!.publicJwk, { kty: 'OKP', x: 'k4' });
});

test('audit: append, list newest first, by user and type, limited', async (t) => {
  const { stores } = await openTestStores(t);
  const a = stores.audit;
  for (let i = 0; i < 5; i++) {
    await a.append({ at: new Date(1000 * i), type: i % 2 ? 'logout' : 'login_succeeded', userId: i < 3 ? 1 : 2, ip: i ? '10.0.0.1' : null, userAgent: null, detail: i ? { n: i, ok: true } : null });
  }
  const all = await a.list({ limit: 10 });
  assert.deepEqual(all.map((e) => e.at.getTime()), [4000, 3000, 2000, 1000, 0]);
  assert.deepEqual(all[0], { id: all[0]!.id, at: new Date(4000), type: 'login_succeeded', userId: 2, ip: '10.0.0.1', userAgent: null, detail: { n: 4, ok: true } });
  assert.deepEqual((await a.list({ userId: 1, limit: 10 })).map((e) => e.at.getTime()), [2000, 1000, 0]);
  assert.deepEqual((await a.list({ type: 'logout', limit: 10 })).map((e) => e.at.getTime()), [3000, 1000]);
  assert.equal((await a.list({ limit: 2 })).length, 2);
});

test('imports: ids kept where free, present users left alone, clashes reported, dry run writes nothing', async (t) => {
  const { stores } = await openTestStores(t);
  const taken = await stores.users.create(newUser('taken'));
  const legacy = (id: number, name: string, email = `${name}@old.example`) => ({ id, legacyUsername: name, username: name, usernameKey: name.toLowerCase(), email, emailKey: email.toLowerCase(), passwordHash: '$2b$04$x' });
  const input = {
    users: [legacy(500, 'Kept'), legacy(taken.id, 'Moved'), legacy(501, 'taken'), legacy(502, 'other', 'taken@example.com')],
    revokedTokens: [{ jti: 'old-jti', expiresAt: new Date(Date.now() + HOUR) }],
    now: new Date(),
  };
  const dry = await stores.imports.importLegacy({ ...input, dryRun: true });
  assert.equal(await stores.users.findByLegacyUsername('Kept'), undefined, 'dry run');
  const report = await stores.imports.importLegacy({ ...input, dryRun: false });
  assert.deepEqual(report, dry, 'the dry run reports what the real one does');
  assert.equal(report.imported, 2);
  assert.equal(report.keptIds, 1);
  assert.equal(report.revokedTokens, 1);
  assert.deepEqual(report.conflicts.map((c) => c.id).sort(), [501, 502]);
  assert.equal((await stores.users.findByLegacyUsername('Kept'))?.id, 500);
  assert.notEqual((await stores.users.findByLegacyUsername('Moved'))?.id, taken.id);
  assert.equal(await stores.revokedTokens.isRevoked('old-jti'), true);
  const again = await stores.imports.importLegacy({ ...input, dryRun: false });
  assert.equal(again.alreadyPresent, 2);
  assert.equal(again.imported, 0);
  // New accounts after an import draw ids past the imported ones.
  assert.ok((await stores.users.create(newUser())).id > 500);
});

test('revocation records: every revoking store writes one in its transaction; head, after, relevantAfter, prune', async (t) => {
  const { stores, dir } = await openTestStores(t);
  const r = stores.revocations;
  assert.equal(await r.head(), 0);
  const user = await stores.users.create(newUser());
  const now = new Date();
  const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => stores.sessions.create(newSession(user.id))));
  assert.equal(await stores.sessions.revoke(a!.id, now, 'logout'), true);
  assert.equal(await stores.sessions.revoke(a!.id, now, 'logout'), false, 'a second revoke records nothing');
  assert.equal(await stores.sessions.revokeOwned(b!.id, user.id, now, 'revoked'), true);
  assert.equal(await stores.sessions.revokeAllForUser(user.id, now, 'logout_all', d!.id), 1);
  const expiresAt = new Date(now.getTime() + HOUR);
  assert.equal(await stores.revokedTokens.revoke('jti-1', expiresAt), true);
  assert.equal(await stores.revokedTokens.revoke('jti-1', expiresAt), false);
  assert.equal(await stores.users.delete(user.id), true, 'the last live session (d) is recorded as it goes');

  const all = await r.after(0, 100);
  assert.deepEqual(all.map((e) => e.sessionId ?? e.tokenId), [a!.id, b!.id, c!.id, 'jti-1', d!.id]);
  assert.deepEqual(all.map((e) => e.id), [...all.map((e) => e.id)].sort((x, y) => x - y), 'ids increase');
  assert.equal(await r.head(), all.at(-1)!.id);
  assert.deepEqual((await r.after(all[1]!.id, 2)).map((e) => e.id), [all[2]!.id, all[3]!.id]);
  assert.equal(all[3]!.expiresAt!.getTime(), expiresAt.getTime());
  // A session's record keeps when its last access token expires, by the lifetime given to the stores.
  for (const record of all.filter((e) => e.sessionId !== null)) {
    assert.equal(record.expiresAt!.getTime(), record.at.getTime() + DEFAULT_SESSION_RECORD_LIFETIME_MS, `record of ${record.sessionId}`);
  }
  // A session record from before the column was filled (expires_at null) goes by the cutoff.
  const older = new Date(now.getTime() - 1000);
  await sqlWrite(dir, 'INSERT INTO revocation_events (session_id, at) VALUES ($1, $2)', ['older-session', DIALECT === 'sqlite' ? older.getTime() : older]);

  // Relevance: records expiring after now; the older session record if revoked after the cutoff.
  const sessionsOver = new Date(now.getTime() + DEFAULT_SESSION_RECORD_LIFETIME_MS + 60_000);
  const later = new Date(now.getTime() + 2 * HOUR);
  assert.equal((await r.relevantAfter(0, new Date(now.getTime() - 2000), now, 100)).length, 6);
  assert.equal((await r.relevantAfter(0, now, now, 100)).length, 5, 'the older record is before the cutoff');
  assert.deepEqual((await r.relevantAfter(0, later, sessionsOver, 100)).map((e) => e.tokenId), ['jti-1']);
  assert.deepEqual(await r.relevantAfter(0, later, later, 100), []);
  assert.equal(await r.prune(now, now), 1, 'only the older record is due');
  assert.equal(await r.prune(later, later), 5);
  assert.deepEqual(await r.after(0, 100), []);
  // Ids are never reused after pruning: a subscriber's cursor stays valid.
  const e = await stores.users.create(newUser());
  const s = await stores.sessions.create(newSession(e.id));
  await stores.sessions.revoke(s.id, now, 'logout');
  assert.ok((await r.head()) > all.at(-1)!.id);
});

test('mfa factors: pending TOTP replaced, activate once, passkey credential ids unique, delete, reset', async (t) => {
  const { stores } = await openTestStores(t);
  const m = stores.mfa;
  const user = await stores.users.create(newUser());
  const other = await stores.users.create(newUser());
  const at = new Date(1_700_000_000_000);
  const totp = (id: string, userId = user.id) => ({ id, userId, type: 'totp' as const, name: 'App', createdAt: at, secretSealed: `v1.${id}` });
  await m.createPendingTotp(totp('t1'));
  await m.createPendingTotp(totp('t2'));
  assert.equal(await m.findFactor('t1', user.id), undefined, 'a new enrolment replaces the unfinished one');
  assert.equal((await m.findFactor('t2', user.id))?.activatedAt, null);
  assert.equal(await m.findFactor('t2', other.id), undefined, "another user's id is not found");
  assert.equal(await m.hasActive(user.id), false);
  assert.equal(await m.activatePending('t2', other.id, at), false, 'not theirs');
  assert.equal(await m.activatePending('t2', user.id, at), true);
  assert.equal(await m.activatePending('t2', user.id, at), false, 'once');
  assert.equal(await m.hasActive(user.id), true);

  const key = (id: string, credentialId: string, userId = user.id) => ({ id, userId, type: 'webauthn' as const, name: 'Key', createdAt: at, credentialId, publicKey: 'pk', counter: 5, transports: ['internal'] });
  assert.equal(await m.insertActive(key('w1', 'cred-1'), at), true);
  assert.equal(await m.insertActive(key('w2', 'cred-1', other.id), at), false, 'a credential id is registered once');
  const found = await m.findByCredentialId('cred-1');
  assert.deepEqual([found?.id, found?.counter, found?.transports], ['w1', 5, ['internal']]);
  assert.deepEqual((await m.listActive(user.id)).map((f) => f.id).sort(), ['t2', 'w1']);

  assert.equal(await m.advanceCounter('w1', 5, at), false, 'a counter that does not move forward');
  assert.equal(await m.advanceCounter('w1', 4, at), false, 'or goes back');
  assert.equal(await m.advanceCounter('w1', 6, at), true);
  assert.equal(await m.recordTotpStep('t2', 100, at), true);
  assert.equal(await m.recordTotpStep('t2', 100, at), false, 'the same step again');
  assert.equal(await m.recordTotpStep('t2', 99, at), false, 'an earlier step');
  const later = new Date(at.getTime() + 30_001);
  assert.equal(await m.recordTotpStep('t2', 101, later), true);
  assert.equal((await m.findFactor('t2', user.id))?.lastUsedAt?.getTime(), later.getTime(), 'the use is dated to the millisecond');

  assert.equal(await m.deleteFactor('w1', other.id), false);
  assert.equal(await m.deleteFactor('w1', user.id), true);
  await m.createPendingTotp(totp('t3', other.id));
  assert.equal(await m.deleteAllForUser(user.id), 1, 'active factors removed');
  assert.deepEqual(await m.listActive(user.id), []);
  assert.ok(await m.findFactor('t3', other.id), "another user's factors stay");
});

test('recovery codes and challenges: single use, replaced as a set; mfa tokens die after max failures; prune', async (t) => {
  const { stores } = await openTestStores(t);
  const m = stores.mfa;
  const user = await stores.users.create(newUser());
  const now = Date.now();
  await m.replaceRecoveryCodes(user.id, ['c1', 'c2', 'c3'], new Date(now));
  assert.equal(await m.countRecoveryCodes(user.id), 3);
  const racing = await Promise.all(Array.from({ length: 5 }, () => m.useRecoveryCode(user.id, 'c1', new Date(now))));
  assert.equal(racing.filter(Boolean).length, 1, 'of concurrent uses exactly one succeeds');
  assert.equal(await m.countRecoveryCodes(user.id), 2);
  await m.replaceRecoveryCodes(user.id, ['d1'], new Date(now));
  assert.equal(await m.useRecoveryCode(user.id, 'c2', new Date(now)), false, 'the old set died');
  assert.equal(await m.useRecoveryCode(user.id, 'd1', new Date(now)), true);
  await m.deleteRecoveryCodes(user.id);
  assert.equal(await m.countRecoveryCodes(user.id), 0);

  const challenge = (hash: string, expiresAt: number) =>
    m.createChallenge({ hash, kind: 'mfa', userId: user.id, throttleKey: 'k', clientId: 'gatehouse', attempts: 0, createdAt: new Date(now), expiresAt: new Date(expiresAt) });
  await challenge('m1', now + HOUR);
  await challenge('m2', now + HOUR);
  await challenge('old', now - HOUR);
  assert.equal(await m.findChallenge('m1', 'webauthn_login', new Date(now)), undefined, 'other kind');
  assert.equal(await m.findChallenge('m1', 'mfa', new Date(now + HOUR)), undefined, 'expired at expires_at');
  assert.equal((await m.findChallenge('m1', 'mfa', new Date(now + HOUR - 1)))?.hash, 'm1', 'live a millisecond before');
  assert.equal((await m.findChallenge('m1', 'mfa', new Date(now)))?.throttleKey, 'k');
  for (let i = 1; i <= 3; i++) assert.equal(await m.countFailure('m1', 3, new Date(now)), i);
  assert.equal(await m.findChallenge('m1', 'mfa', new Date(now)), undefined, 'dead at the limit');
  assert.equal(await m.countFailure('m1', 3, new Date(now)), undefined);
  const consumed = await Promise.all(Array.from({ length: 5 }, () => m.consumeChallenge('m2', 'mfa', new Date(now))));
  assert.equal(consumed.filter(Boolean).length, 1, 'single use under concurrency');
  assert.equal(await m.consumeChallenge('m2', 'mfa', new Date(now)), undefined, 'spent');
  assert.equal(await m.prune(new Date(now)), 1, 'only the expired one');
});

test('authorization codes and grants: saved and read back exactly, redeemed once under concurrency', async (t) => {
  const { stores } = await openTestStores(t);
  const o = stores.oidc;
  const user = await stores.users.create(newUser());
  const sso = await stores.sessions.create(newSession(user.id));
  const now = Date.now();
  const code = {
    hash: 'code-1',
    clientId: 'rp',
    userId: user.id,
    redirectUri: 'https://rp.example/cb',
    codeChallenge: 'challenge',
    scope: ['openid', 'email'],
    nonce: null,
    ssoSessionId: sso.id,
    authTime: new Date(now - 1234),
    amr: ['pwd', 'otp'],
    acr: null,
    createdAt: new Date(now),
    expiresAt: new Date(now + 60_000),
    usedAt: null,
    sessionId: null,
  };
  await o.saveCode(code);
  await o.saveCode({ ...code, hash: 'code-2', nonce: 'n-2', acr: 'urn:gatehouse:mfa', scope: [] });
  assert.deepEqual(await o.findCode('code-1'), code, 'every field, dates to the millisecond, NULLs as null');
  const second = await o.findCode('code-2');
  assert.deepEqual([second?.nonce, second?.acr, second?.scope], ['n-2', 'urn:gatehouse:mfa', []]);
  assert.equal(await o.findCode('nope'), undefined);

  const client = await stores.sessions.create(newSession(user.id));
  const redeemedAt = new Date(now + 5);
  const racing = await Promise.all(Array.from({ length: 5 }, () => o.markCodeUsed('code-1', redeemedAt, client.id)));
  assert.equal(racing.filter(Boolean).length, 1, 'of concurrent redemptions exactly one wins');
  const used = await o.findCode('code-1');
  assert.deepEqual([used?.usedAt?.getTime(), used?.sessionId], [redeemedAt.getTime(), client.id]);
  assert.equal(await o.markCodeUsed('nope', redeemedAt, client.id), false);

  const grant = { sessionId: client.id, ssoSessionId: sso.id, clientId: 'rp', scope: ['openid'], authTime: code.authTime, amr: ['pwd'], createdAt: redeemedAt };
  await o.saveGrant(grant);
  assert.deepEqual(await o.findGrant(client.id), grant);
  await assert.rejects(o.saveGrant(grant), 'one grant per client session');
});
