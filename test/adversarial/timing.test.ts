/**
 * Unknown user and wrong password must take the same time. Measured over many
 * interleaved tries at the real argon2id cost, and compared with a statistical bound
 * (the difference of means against its standard error), not a fixed millisecond figure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { buildTestApp, freshIp, register } from '../helpers/app.js';

function stats(xs: number[]) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, variance, n: xs.length };
}

/** Trims the slowest 10 % (GC pauses, a busy neighbour) from both samples alike. */
const trim = (xs: number[]) => [...xs].sort((a, b) => a - b).slice(0, Math.floor(xs.length * 0.9));

test('login: unknown user and wrong password differ by less than the noise', { timeout: 120_000 }, async (t) => {
  const app = await buildTestApp(t, {
    // The real cost: the dummy-hash defence only shows at realistic hash times.
    ARGON2_MEMORY_KIB: '19456',
    ARGON2_TIME_COST: '2',
    LOCKOUT_ACCOUNT_FAILURES: '100000',
    LOCKOUT_ACCOUNT_IP_FAILURES: '100000',
  });
  await register(app, { username: 'realuser' });
  const attempt = async (username: string) => {
    const started = process.hrtime.bigint();
    const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username, password: 'WrongPass123' }, remoteAddress: freshIp() });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(res.statusCode, 401);
    return ms;
  };
  await attempt('realuser'); // warm-up: the dummy hash is made on first use
  await attempt('ghost');
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < 60; i++) {
    known.push(await attempt('realuser'));
    unknown.push(await attempt(`ghost${i}`));
  }
  const a = stats(trim(known));
  const b = stats(trim(unknown));
  const diff = Math.abs(a.mean - b.mean);
  const standardError = Math.sqrt(a.variance / a.n + b.variance / b.n);
  // ~4 standard errors: a false alarm is rarer than 1 in 10 000 runs, while skipping the
  // hash for unknown users (a difference of one whole argon2 verify, ~10 ms against a noise
  // of well under 1 ms) is caught every time.
  assert.ok(
    diff < 4 * standardError + 0.05 * Math.max(a.mean, b.mean),
    `known ${a.mean.toFixed(2)} ms vs unknown ${b.mean.toFixed(2)} ms: difference ${diff.toFixed(2)} ms, standard error ${standardError.toFixed(2)} ms`,
  );
  assert.ok(a.mean > 2, `the hash really ran (${a.mean.toFixed(2)} ms)`);
});

/** Interleaves `a` and `b` attempts and asserts their means differ by less than the noise. */
async function assertSameTime(label: string, rounds: number, a: () => Promise<number>, b: () => Promise<number>, between: () => Promise<void> = async () => {}) {
  const xs: number[] = [];
  const ys: number[] = [];
  // Alternating which goes first: whatever one attempt leaves behind (a checkpoint, a
  // collection) falls on both kinds alike.
  for (let i = 0; i < rounds; i++) {
    for (const [run, into] of i % 2 === 0 ? [[a, xs], [b, ys]] as const : [[b, ys], [a, xs]] as const) {
      into.push(await run());
      await between();
    }
  }
  const s = stats(trim(xs));
  const u = stats(trim(ys));
  const diff = Math.abs(s.mean - u.mean);
  const standardError = Math.sqrt(s.variance / s.n + u.variance / u.n);
  assert.ok(
    diff < 4 * standardError + 0.05 * Math.max(s.mean, u.mean),
    `${label}: ${s.mean.toFixed(2)} ms vs ${u.mean.toFixed(2)} ms: difference ${diff.toFixed(2)} ms, standard error ${standardError.toFixed(2)} ms`,
  );
  return { a: s.mean, b: u.mean };
}

// Security review item 4: an imported (bcrypt) user must not betray itself by its cost.
test('login: while imported bcrypt hashes remain, unknown, native and imported users cost the same', { timeout: 300_000 }, async (t) => {
  const app = await buildTestApp(t, {
    ARGON2_MEMORY_KIB: '19456',
    ARGON2_TIME_COST: '2',
    LOCKOUT_ACCOUNT_FAILURES: '100000',
    LOCKOUT_ACCOUNT_IP_FAILURES: '100000',
    RATE_LIMIT_LOGIN_PER_MINUTE: '100000',
  });
  await register(app, { username: 'native' });
  // bcrypt cost 10 (~60 ms): well above argon2id's cost here, yet quick enough to sample.
  const imported = (await bcryptHash(Buffer.from('Imported-password-1'), 10)).replace(/^\$2y\$/, '$2b$');
  await app.stores.imports.importLegacy({
    users: [{ id: 900, legacyUsername: 'imported', username: 'imported', usernameKey: 'imported', email: 'imported@example.com', emailKey: 'imported@example.com', passwordHash: imported }],
    revokedTokens: [],
    now: new Date(),
    dryRun: false,
  });
  const attempt = async (username: string) => {
    const started = process.hrtime.bigint();
    const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username, password: 'WrongPass123' }, remoteAddress: freshIp() });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(res.statusCode, 401);
    return ms;
  };
  for (const name of ['imported', 'native', 'ghost']) await attempt(name); // warm-up: dummy hashes are made on first use
  let n = 0;
  await assertSameTime('imported vs unknown', 30, () => attempt('imported'), () => attempt(`ghost${n++}`));
  await assertSameTime('native vs unknown', 30, () => attempt('native'), () => attempt(`ghost${n++}`));
});

// Security review item 10: the known address must not be slower because its work runs first.
test('password/forgot and email/verify/request: a known address answers as fast as an unknown one', { timeout: 180_000 }, async (t) => {
  const app = await buildTestApp(t, { EMAIL_PER_ADDRESS_PER_HOUR: '100000', RATE_LIMIT_FORGOT_PER_HOUR: '100000', LOG_LEVEL: 'silent' });
  await register(app, { username: 'known' });
  const post = async (url: string, email: string) => {
    const started = process.hrtime.bigint();
    const res = await app.app.inject({ method: 'POST', url, payload: { email }, remoteAddress: freshIp() });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(res.statusCode, 202, res.body);
    return ms;
  };
  const settle = () => app.emailFlows!.drain();
  for (const url of ['/password/forgot', '/email/verify/request']) {
    await post(url, 'known@example.com');
    await settle();
    let n = 0;
    const { a } = await assertSameTime(url, 60, () => post(url, 'known@example.com'), () => post(url, `nobody${n++}@example.com`), settle);
    assert.ok(a > 0, 'measured');
  }
});
