/**
 * Unknown user and wrong password must take the same time. Measured over many
 * interleaved tries at the real argon2id cost, and compared with a statistical bound
 * (the difference of means against its standard error), not a fixed millisecond figure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
