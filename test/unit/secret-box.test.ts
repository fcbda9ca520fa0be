import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { SecretBoxError, open, seal } from '../../src/crypto/secret-box.js';

test('a sealed secret opens with its key and row id only', () => {
  const key = randomBytes(32);
  const secret = randomBytes(20);
  const sealed = seal(key, secret, 'factor-1');
  assert.match(sealed, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
  assert.ok(!sealed.includes(secret.toString('base64url')));
  assert.deepEqual(open(key, sealed, 'factor-1'), secret);
  assert.notEqual(seal(key, secret, 'factor-1'), sealed, 'a fresh IV each time');
  assert.throws(() => open(randomBytes(32), sealed, 'factor-1'), SecretBoxError, 'another key');
  assert.throws(() => open(key, sealed, 'factor-2'), SecretBoxError, "another row's value");
  const [v, iv, body] = sealed.split('.');
  const flipped = Buffer.from(body!, 'base64url');
  flipped[0]! ^= 1;
  assert.throws(() => open(key, `${v}.${iv}.${flipped.toString('base64url')}`, 'factor-1'), SecretBoxError, 'tampered');
  assert.throws(() => open(key, 'v2.x.y', 'factor-1'), SecretBoxError);
  assert.throws(() => open(key, 'garbage', 'factor-1'), SecretBoxError);
});
