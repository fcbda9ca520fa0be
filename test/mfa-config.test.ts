import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/index.js';

test('passkeys: the loopback default becomes RP id localhost (browsers refuse an IP), with both origins', () => {
  const config = loadConfig({});
  assert.deepEqual(config.mfa.webauthn, { rpId: 'localhost', origins: ['http://127.0.0.1:8000', 'http://localhost:8000'] });
  const named = loadConfig({ PUBLIC_URL: 'https://auth.example.com' });
  assert.deepEqual(named.mfa.webauthn, { rpId: 'auth.example.com', origins: ['https://auth.example.com'] });
  const overridden = loadConfig({ PUBLIC_URL: 'https://auth.example.com', WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://example.com,https://app.example.com' });
  assert.deepEqual(overridden.mfa.webauthn, { rpId: 'example.com', origins: ['https://example.com', 'https://app.example.com'] });
});

test('passkeys: a bare non-loopback IP turns them off; an IP as WEBAUTHN_RP_ID or a bad origin is a start-up error', () => {
  assert.equal(loadConfig({ PUBLIC_URL: 'http://10.0.0.5:8000' }).mfa.webauthn, undefined);
  assert.throws(() => loadConfig({ WEBAUTHN_RP_ID: '10.0.0.5' }), (e: unknown) => e instanceof ConfigError && e.variable === 'WEBAUTHN_RP_ID');
  assert.throws(() => loadConfig({ WEBAUTHN_ORIGINS: 'https://a.example/path' }), (e: unknown) => e instanceof ConfigError && e.variable === 'WEBAUTHN_ORIGINS');
});
