import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, login, register } from '../helpers/app.js';

test('/ redirects to /docs, which serves the interactive reference', async (t) => {
  const app = await buildTestApp(t);
  const root = await app.app.inject({ method: 'GET', url: '/' });
  assert.equal(root.statusCode, 302);
  assert.equal(root.headers.location, '/docs');
  const docs = await app.app.inject({ method: 'GET', url: '/docs/' });
  assert.equal(docs.statusCode, 200);
  assert.match(String(docs.headers['content-type']), /text\/html/);
});

test('/healthz and /readyz answer; /readyz reports the database and 503s when it is gone', async (t) => {
  const app = await buildTestApp(t);
  assert.deepEqual((await app.app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
  const ready = await app.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { status: 'ok', checks: { database: { status: 'ok' } } });
  await app.stores.close();
  const down = await app.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(down.statusCode, 503);
  assert.deepEqual(down.json(), { status: 'error', checks: { database: { status: 'error' } } });
  assert.equal((await app.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
});

test('/metrics counts requests by route template and logins by result', async (t) => {
  const app = await buildTestApp(t);
  await register(app, { username: 'alice' });
  await login(app, 'alice');
  await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'Nope12345' } });
  await app.app.inject({ method: 'GET', url: '/no/such/path' });
  const res = await app.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /text\/plain/);
  assert.match(res.body, /gatehouse_logins_total\{result="ok"\} 1/);
  assert.match(res.body, /gatehouse_logins_total\{result="failed"\} 1/);
  assert.match(res.body, /gatehouse_http_requests_total\{method="POST",route="\/login",status="200"\} 1/);
  assert.match(res.body, /route="unmatched",status="404"/);
  assert.doesNotMatch(res.body, /no\/such\/path/);
  assert.match(res.body, /gatehouse_http_request_duration_seconds_bucket/);
});

test('unknown routes are 404 problems; responses carry security headers; no stack traces', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.app.inject({ method: 'GET', url: '/nope' });
  assert.equal(res.statusCode, 404);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  const body = res.json();
  assert.equal(body.type, 'urn:gatehouse:problem:not_found');
  assert.equal(body.status, 404);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
  assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
  assert.equal(res.headers['access-control-allow-origin'], undefined, 'no CORS by default');
});

test('a path served under other methods is 405 with Allow (RFC 9110), whatever the route kind; an unknown path stays 404', async (t) => {
  const settings: Array<Record<string, string>> = [{}, { CORS_ORIGINS: 'https://app.example.com' }];
  for (const env of settings) {
    const app = await buildTestApp(t, env);
    const ask = async (method: 'GET' | 'PUT' | 'POST' | 'PATCH', url: string) => {
      const res = await app.app.inject({ method, url });
      return { status: res.statusCode, allow: res.headers.allow, type: res.json().type as string };
    };
    assert.deepEqual(await ask('GET', '/login'), { status: 405, allow: 'POST', type: 'urn:gatehouse:problem:method_not_allowed' });
    assert.deepEqual(await ask('PUT', '/sessions/some-id'), { status: 405, allow: 'DELETE', type: 'urn:gatehouse:problem:method_not_allowed' }, 'a parametric route');
    assert.deepEqual(await ask('PATCH', '/me?x=1'), { status: 405, allow: 'GET, HEAD, DELETE', type: 'urn:gatehouse:problem:method_not_allowed' });
    assert.equal((await ask('GET', '/nope')).status, 404, JSON.stringify(env));
    assert.equal((await ask('GET', '/docs/static/no-such-file.js')).status, 404, 'a route of this method that found nothing is 404');
    // The route itself answers as before.
    assert.equal((await ask('GET', '/healthz')).status, 200);
  }
});

test('CORS answers only the configured origins', async (t) => {
  const app = await buildTestApp(t, { CORS_ORIGINS: 'https://app.example.com' });
  const allowed = await app.app.inject({ method: 'OPTIONS', url: '/login', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
  assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com');
  const denied = await app.app.inject({ method: 'OPTIONS', url: '/login', headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' } });
  // Not echoed and not a wildcard: no allow-origin header at all for an unlisted origin.
  assert.equal(denied.headers['access-control-allow-origin'], undefined);
});

test('HTML pages also carry the document-only headers; JSON answers do not', async (t) => {
  const app = await buildTestApp(t);
  const page = await app.app.inject({ method: 'GET', url: '/email/verify?token=ghm_not-a-real-token' });
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['x-frame-options'], 'SAMEORIGIN');
  const json = await app.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(json.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
  assert.equal(json.headers['referrer-policy'], 'no-referrer');
  assert.equal(json.headers['cross-origin-opener-policy'], undefined);
  assert.equal(json.headers['x-xss-protection'], undefined);
});

test('a request that logs through request.log carries its reqId, as its access line does', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'nobody', password: 'Wrong-password-1' } });
  assert.equal(res.statusCode, 401);
  const lines = app.logs.flatMap((chunk) => chunk.split('\n')).filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  const refused = lines.find((l) => l.msg === 'request refused');
  const access = lines.find((l) => l.msg === 'request' && (l.req as { url?: string } | undefined)?.url === '/login');
  assert.ok(refused && access, 'both lines were written');
  assert.equal(refused.code, 'invalid_credentials');
  assert.equal(typeof refused.reqId, 'string');
  assert.equal(refused.reqId, access.reqId);
});

test('the access line: one JSON line per request in pino\'s shape, values escaped, none at LOG_LEVEL=warn', async (t) => {
  const app = await buildTestApp(t);
  const agent = 'evil "agent"\\\n{"msg":"forged"}';
  await app.app.inject({ method: 'GET', url: '/healthz?q="x"&refresh_token=secret', headers: { 'user-agent': agent } });
  const lines = app.logs.flatMap((chunk) => chunk.split('\n')).filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  const access = lines.filter((l) => l.msg === 'request');
  assert.equal(access.length, 1, 'one line, and the user agent did not forge a second');
  const line = access[0]!;
  assert.deepEqual(Object.keys(line), ['level', 'time', 'pid', 'hostname', 'reqId', 'req', 'status', 'ms', 'msg']);
  assert.equal(line.level, 30);
  assert.equal(line.pid, process.pid);
  assert.equal(typeof line.time, 'number');
  assert.equal(line.status, 200);
  assert.deepEqual(line.req, { method: 'GET', url: '/healthz?q=[redacted]&refresh_token=[redacted]', remoteAddress: '127.0.0.1', userAgent: agent });
  assert.ok(!app.logs.join('').includes('secret'));

  const quiet = await buildTestApp(t, { LOG_LEVEL: 'warn' });
  await quiet.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(quiet.logs.join('').includes('"msg":"request"'), false);
});
