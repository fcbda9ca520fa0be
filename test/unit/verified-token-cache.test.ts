import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessClaims } from '../../src/domain/types.js';
import { hashToken } from '../../src/crypto/random.js';
import { VerifiedTokenCache } from '../../src/services/verified-token-cache.js';

const claims = (exp: number): AccessClaims => ({ sub: '1', sid: 's', jti: 'j', username: 'u', exp, iat: exp - 1800, aud: 'gatehouse', clientId: 'gatehouse' });
const always = () => true;

test('a cached token is returned until its exp (plus skew), then dropped', () => {
  const cache = new VerifiedTokenCache(10);
  cache.set('t1', claims(1000), 'k1');
  assert.equal(cache.get('t1', 999, 30, always)?.exp, 1000);
  assert.equal(cache.get('t1', 1030, 30, always)?.exp, 1000);
  assert.equal(cache.get('t1', 1031, 30, always), undefined);
  assert.equal(cache.size, 0);
  assert.equal(cache.get('t1', 999, 30, always), undefined, 'gone for good');
});

test('an entry whose key is no longer usable is dropped', () => {
  const cache = new VerifiedTokenCache(10);
  cache.set('t1', claims(1000), 'old');
  assert.equal(cache.get('t1', 900, 0, (kid) => kid !== 'old'), undefined);
  assert.equal(cache.size, 0);
});

test('the exact string is the key: another string, even one character off, misses', () => {
  const cache = new VerifiedTokenCache(10);
  cache.set('abc.def.ghi', claims(1000), 'k');
  assert.equal(cache.get('abc.def.ghj', 900, 0, always), undefined);
  assert.ok(cache.get('abc.def.ghi', 900, 0, always));
});

test('bounded: the oldest entry leaves first', () => {
  const cache = new VerifiedTokenCache(2);
  cache.set('a', claims(1000), 'k');
  cache.set('b', claims(1000), 'k');
  cache.set('c', claims(1000), 'k');
  assert.equal(cache.size, 2);
  assert.equal(cache.get('a', 900, 0, always), undefined);
  assert.ok(cache.get('b', 900, 0, always));
  assert.ok(cache.get('c', 900, 0, always));
});

test('size 0 turns the cache off: nothing is kept, every lookup misses', () => {
  const cache = new VerifiedTokenCache(0);
  cache.set('t1', claims(1000), 'k');
  assert.equal(cache.size, 0);
  assert.equal(cache.get('t1', 900, 0, always), undefined);
});

test('entries are keyed by a digest: the token string itself is not kept', () => {
  const cache = new VerifiedTokenCache(10);
  const token = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';
  cache.set(token, claims(1000), 'k');
  const keys = [...(cache as unknown as { entries: Map<string, unknown> }).entries.keys()];
  assert.equal(keys.length, 1);
  assert.notEqual(keys[0], token);
  assert.equal(keys[0], hashToken(token), 'the SHA-256 digest refresh tokens are stored by');
  assert.ok(cache.get(token, 900, 0, always));
});
