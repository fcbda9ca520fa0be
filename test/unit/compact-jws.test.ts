/**
 * crypto/compact-jws.ts decides canonical base64url from the last character alone; Buffer's
 * round trip (decode leniently, encode) is the reference it must agree with.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { canonicalJwsParts, isCanonicalBase64url } from '../../src/crypto/compact-jws.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const roundTrips = (part: string) => /^[A-Za-z0-9_-]+$/.test(part) && Buffer.from(part, 'base64url').toString('base64url') === part;

test('isCanonicalBase64url agrees with Buffer\'s round trip for every last character at every length', () => {
  let checked = 0;
  for (let length = 1; length <= 12; length++) {
    for (let trial = 0; trial < 4; trial++) {
      const prefix = randomBytes(length).toString('base64url').slice(0, length - 1);
      for (const last of ALPHABET + '=+/. ') {
        const part = prefix + last;
        assert.equal(isCanonicalBase64url(part), roundTrips(part), JSON.stringify(part));
        checked++;
      }
    }
  }
  assert.ok(checked > 3000);
  // Every two-character part: 4 of 64 second characters are canonical after each first one.
  let canonical = 0;
  for (const a of ALPHABET) for (const b of ALPHABET) if (isCanonicalBase64url(a + b)) canonical++;
  assert.equal(canonical, 64 * 4);
});

test('padding, whitespace, the standard alphabet and empty parts are refused', () => {
  const part = randomBytes(32).toString('base64url');
  assert.equal(isCanonicalBase64url(part), true);
  for (const bad of ['', `${part}=`, ` ${part}`, `${part}\n`, part.replace(/[-_]/g, '+') + '+', 'YQ==']) {
    assert.equal(isCanonicalBase64url(bad), false, JSON.stringify(bad));
  }
  assert.deepEqual(canonicalJwsParts('a.b.c'), undefined, 'one character cannot encode a byte');
  assert.deepEqual(canonicalJwsParts('YQ.YQ.YQ'), ['YQ', 'YQ', 'YQ']);
  assert.equal(canonicalJwsParts('YR.YQ.YQ'), undefined, 'YR decodes to "a" with a set unused bit');
  assert.equal(canonicalJwsParts('YQ.YQ'), undefined);
});
