/** OpenID Connect rules with no I/O: PKCE, redirect URIs, prompt, and the sign-in cookie's attributes. */
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { test } from 'node:test';
import { parsePrompt, pkceMatches, redirectUriProblem, redirectUriRegistered } from '../../src/domain/oidc.js';
import { cookieSettings } from '../../src/http/pages/cookies.js';
import { escapeHtml, html } from '../../src/http/pages/render.js';

test('PKCE S256: only the verifier whose SHA-256 is the challenge, of 43-128 unreserved characters', () => {
  const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
  // RFC 7636 appendix B.
  assert.equal(hash('sha256', verifier, 'base64url'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  assert.ok(pkceMatches(verifier, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'));
  assert.ok(!pkceMatches(undefined, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'));
  assert.ok(!pkceMatches(verifier, verifier), 'plain is not S256');
  const short = 'a'.repeat(42);
  assert.ok(!pkceMatches(short, hash('sha256', short, 'base64url')), 'too short a verifier');
});

test('redirect URIs: https, http only on loopback, private-use schemes with a dot; exact match only', () => {
  assert.equal(redirectUriProblem('https://app.example.com/cb'), undefined);
  assert.equal(redirectUriProblem('http://localhost:3000/cb'), undefined);
  assert.equal(redirectUriProblem('http://127.0.0.1/cb'), undefined);
  assert.equal(redirectUriProblem('com.example.app:/cb'), undefined);
  for (const bad of ['http://app.example.com/cb', 'https://app.example.com/cb#x', 'javascript:alert(1)', 'data:text/html,x', 'myapp:/cb', '/relative', 'https://user:pw@app.example.com/']) {
    assert.ok(redirectUriProblem(bad), bad);
  }
  assert.ok(redirectUriRegistered(['https://a.example/cb'], 'https://a.example/cb'));
  assert.ok(!redirectUriRegistered(['https://a.example/cb'], 'https://a.example/cb/'));
  assert.ok(!redirectUriRegistered(['https://a.example/cb'], 'https://A.example/cb'));
});

test('prompt: none stands alone; select_account is refused', () => {
  assert.deepEqual(parsePrompt('login consent'), { ok: true, prompts: new Set(['login', 'consent']) });
  assert.equal(parsePrompt('none login').ok, false);
  assert.equal(parsePrompt('select_account').ok, false);
  assert.deepEqual(parsePrompt(undefined), { ok: true, prompts: new Set() });
});

test('the sign-in cookie is Secure and __Host- over https, and only on a loopback http PUBLIC_URL goes without Secure', () => {
  const https = cookieSettings('https://auth.example.com', 60);
  assert.equal(https.secure, true);
  assert.equal(https.sessionName, '__Host-gatehouse_session');
  assert.equal(https.csrfName, '__Host-gatehouse_csrf');
  assert.equal(cookieSettings('http://127.0.0.1:8000', 60).secure, false);
  assert.equal(cookieSettings('http://localhost:8000', 60).secure, false);
  assert.equal(cookieSettings('http://auth.internal:8000', 60).secure, true, 'plain http elsewhere keeps Secure (and so does not work: use https)');
});

test('page templates escape every value', () => {
  assert.equal(escapeHtml(`<script>"'&`), '&lt;script&gt;&quot;&#39;&amp;');
  assert.equal(html`<p title="${'"x"'}">${'<b>'}</p>`.value, '<p title="&quot;x&quot;">&lt;b&gt;</p>');
});
