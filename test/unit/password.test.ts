import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PasswordHasher } from '../../src/crypto/password.js';

const FAST = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

test('argon2id PHC strings; verify accepts the right password and flags changed parameters', async () => {
  const hasher = new PasswordHasher(FAST);
  const stored = await hasher.hash('Correct horse 1');
  assert.match(stored, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
  assert.deepEqual(await hasher.verify(stored, 'Correct horse 1'), { ok: true, needsRehash: false });
  assert.deepEqual(await hasher.verify(stored, 'wrong'), { ok: false, needsRehash: false });
  const stronger = new PasswordHasher({ ...FAST, memoryCost: 2048 });
  assert.deepEqual(await stronger.verify(stored, 'Correct horse 1'), { ok: true, needsRehash: true });
  assert.deepEqual(await hasher.verify('$2b$12$notargon', 'x'), { ok: false, needsRehash: false });
  assert.equal(await hasher.verifyDummy('anything'), false);
});

test('no more than maxConcurrent hashes run at once, and every queued one completes', async () => {
  const hasher = new PasswordHasher(FAST, 2);
  const internals = hasher as unknown as { running: number };
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, internals.running)), 0);
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => hasher.hash(`pw-${i}`)));
  clearInterval(watch);
  assert.equal(results.length, 12);
  assert.equal(new Set(results).size, 12);
  assert.ok(peak <= 2, `peak ${peak}`);
  assert.ok(peak >= 1);
  assert.equal(internals.running, 0);
});
