/**
 * What the NUL check looks at (http/reject-nul.ts): every string of the input, keys and
 * nested arrays included, and nothing a parsed input does not own.
 * test/http/nul-input.test.ts checks the answer a request gets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { holdsNul } from '../../src/http/reject-nul.js';

test('a NUL is found in a string, a key, an array and an object nested in either', () => {
  assert.equal(holdsNul('a\u0000b'), true);
  assert.equal(holdsNul({ ['k\u0000']: 'v' }), true, 'in a key');
  assert.equal(holdsNul({ a: ['x', ['y', 'z\u0000']] }), true, 'in an array inside an array');
  assert.equal(holdsNul([{ a: { b: '\u0000' } }]), true, 'in an object inside an array');
  // A query string parsed by Fastify is an object without a prototype.
  const query = Object.assign(Object.create(null) as Record<string, unknown>, { q: ['ok', 'no\u0000'] });
  assert.equal(holdsNul(query), true, 'in a prototype-less object');
});

test('input without a NUL passes, whatever its shape', () => {
  for (const value of [undefined, null, 0, true, '', 'plain', {}, [], { a: [1, 'b', { c: null }] }, Object.create(null)]) {
    assert.equal(holdsNul(value), false, JSON.stringify(value));
  }
});

test('what the input does not own is not looked at, and depth is bounded', () => {
  const inherited = Object.create({ ['k\u0000']: 'v\u0000' }) as object;
  assert.equal(holdsNul(inherited), false, 'an inherited property is not part of the input');
  let deep: unknown = 'x\u0000';
  for (let i = 0; i < 40; i++) deep = [deep];
  assert.equal(holdsNul(deep), false, 'below 32 levels nothing is looked at (the body limit bounds the input anyway)');
  let shallow: unknown = 'x\u0000';
  for (let i = 0; i < 30; i++) shallow = [shallow];
  assert.equal(holdsNul(shallow), true);
});
