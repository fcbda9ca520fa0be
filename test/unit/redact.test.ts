import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from '../../src/http/redact.js';

test('every query value is masked, whatever the (encoded) name', () => {
  assert.equal(redactUrl('/me'), '/me');
  assert.equal(redactUrl('/refresh?refresh_token=ghr_abc'), '/refresh?refresh_token=[redacted]');
  assert.equal(redactUrl('/refresh?refresh%5Ftoken=ghr_abc'), '/refresh?refresh_token=[redacted]');
  assert.equal(redactUrl('/x?a=1&pass%77ord=secret;password=s2'), '/x?a=[redacted]&password=[redacted]');
  assert.equal(redactUrl('/x?'), '/x');
  assert.doesNotMatch(redactUrl('/oauth/token?client_secret=s3cr3t&grant_type=password'), /s3cr3t/);
});
