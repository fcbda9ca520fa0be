import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessClaims } from '../../src/domain/types.js';
import { hashToken } from '../../src/crypto/random.js';
import { VerifiedTokenCache } from '../../src/services/verified-token-cache.js';

const claims = (exp: number): AccessClaims => ({ sub: '1', sid: 's', jti: 'j', username: 'u', exp, iat: exp - 1800, aud: 'gatehouse', clientId: 'gatehouse' });
const always = () => true;

test('a cached token is returned until its exp (plus skew), then dropped', () => {
  const cache = new VerifiedTokenCache(10);
  cache.set(cache.keyOf('t1'), claims(1000), 'k1');
  assert.equal(cache.get(cache.keyOf('t1'), 999, 30, always)?.exp, 1000);
  assert.equal(cache.get(cache.keyOf('t1'), 1030, 30, always)?.exp, 1000);
  assert.equal(cache.get(cache.keyOf('t1'), 1031, 30, always), undefined);
  assert.equal(cache.size, 0);
  assert.equal(cache.get(cache.keyOf('t1'), 999, 30, always), undefined, 'gone for good');
});

test('an entry whose key is no longer usable is dropped', () => {
  const cache = new VerifiedTokenCache(10);
  cache.set(cache.keyOf('t1'), claims(1000), 'old');
  assert.equal(cache.get(cache.keyOf('t1'), 900, 0, (kid) => kid !== 'old'), undefined);
  assert.equal(cache.size, 0);
});

test('the exact string is the key: another string, even one character off, misses', () => {
  const cache = new VerifiedTokenCache(10);
  cache.set(cache.keyOf('abc.def.ghi'), claims(1000), 'k');
  assert.equal(cache.get(cache.keyOf('abc.def.ghj'), 900, 0, always), undefined);
  assert.ok(cache.get(cache.keyOf('abc.def.ghi'), 900, 0, always));
});

test('bounded: the oldest entry leaves first', () => {
  const cache = new VerifiedTokenCache(2);
  cache.set(cache.keyOf('a'), claims(1000), 'k');
  cache.set(cache.keyOf('b'), claims(1000), 'k');
  cache.set(cache.keyOf('c'), claims(1000), 'k');
  assert.equal(cache.size, 2);
  assert.equal(cache.get(cache.keyOf('a'), 900, 0, always), undefined);
  assert.ok(cache.get(cache.keyOf('b'), 900, 0, always));
  assert.ok(cache.get(cache.keyOf('c'), 900, 0, always));
});

test('size 0 turns the cache off: nothing is kept, every lookup misses', () => {
  const cache = new VerifiedTokenCache(0);
  cache.set(cache.keyOf('t1'), claims(1000), 'k');
  assert.equal(cache.size, 0);
  assert.equal(cache.get(cache.keyOf('t1'), 900, 0, always), undefined);
});

test('entries are keyed by a digest: the token string itself is not kept', () => {
  const cache = new VerifiedTokenCache(10);
  const token = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';
  cache.set(cache.keyOf(token), claims(1000), 'k');
  const keys = [...(cache as unknown as { entries: Map<string, unknown> }).entries.keys()];
  assert.equal(keys.length, 1);
  assert.notEqual(keys[0], token);
  assert.equal(keys[0], hashToken(token), 'the SHA-256 digest refresh tokens are stored by');
  assert.ok(cache.get(cache.keyOf(token), 900, 0, always));
});

test('bounded whatever the order of hits, expiries and re-caching: never more than the maximum, the newest always kept', () => {
  const max = 5;
  const cache = new VerifiedTokenCache(max);
  let seed = 7;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let step = 0; step < 5000; step++) {
    const key = cache.keyOf(`t${random(12)}`);
    if (random(3) === 0) {
      // An expired lookup deletes the entry (when there is one).
      cache.get(key, 2000, 0, always);
    } else {
      cache.set(key, claims(1000), 'k');
      assert.ok(cache.get(key, 900, 0, always), 'the entry just cached is there');
    }
    assert.ok(cache.size <= max, `size ${cache.size} after step ${step}`);
  }
});
