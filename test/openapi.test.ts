/**
 * The OpenAPI document at /openapi.json: valid OpenAPI 3.1, complete (every route Fastify
 * serves, minus the hidden ones), and saying what the wire contract says.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { PASSWORD, buildTestApp, freshIp, login, register, type TestApp } from './helpers/app.js';
import { enrolTotp } from './helpers/mfa.js';

type Json = Record<string, unknown>;
interface MediaType {
  schema?: Json;
}
interface Response {
  description?: string;
  content?: Record<string, MediaType>;
  headers?: Record<string, { required?: boolean; schema?: Json }>;
}
interface Operation {
  requestBody?: { required?: boolean; content?: Record<string, MediaType> };
  responses: Record<string, Response>;
  security?: Array<Record<string, string[]>>;
}
interface Doc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas?: Record<string, Json>; securitySchemes?: Record<string, Json> };
  security?: unknown[];
}

/** What the contract (spec/API.md) says this build serves, with its methods. */
const KNOWN_OPERATIONS = [
  'DELETE /consents/{client_id}',
  'DELETE /me',
  'DELETE /mfa/factors/{id}',
  'DELETE /sessions/{id}',
  'GET /.well-known/jwks.json',
  'GET /.well-known/oauth-authorization-server',
  'GET /.well-known/openid-configuration',
  'GET /consents',
  'GET /email/verify',
  'GET /healthz',
  'GET /me',
  'GET /metrics',
  'GET /mfa/factors',
  'GET /oauth/authorize',
  'GET /oauth/end-session',
  'GET /openapi.json',
  'GET /password/reset',
  'GET /readyz',
  'GET /revocations/stream',
  'GET /sessions',
  'GET /signin',
  'GET /userinfo',
  'POST /consent',
  'POST /email/verify',
  'POST /email/verify/request',
  'POST /login',
  'POST /login/mfa',
  'POST /logout',
  'POST /logout/all',
  'POST /mfa/recovery-codes',
  'POST /mfa/totp',
  'POST /mfa/totp/activate',
  'POST /oauth/authorize',
  'POST /oauth/end-session',
  'POST /oauth/introspect',
  'POST /oauth/revoke',
  'POST /oauth/token',
  'POST /password/change',
  'POST /password/forgot',
  'POST /password/reset',
  'POST /refresh',
  'POST /register',
  'POST /signin',
  'POST /signin/passkey',
  'POST /signin/passkey/options',
  'POST /signin/second-factor',
  'POST /userinfo',
  'POST /webauthn/login',
  'POST /webauthn/login/options',
  'POST /webauthn/register',
  'POST /webauthn/register/options',
];
/** POST routes that take a body (credentials or tokens): JSON and the OAuth2 form. */
const BODY_POSTS = [
  '/email/verify',
  '/email/verify/request',
  '/login',
  '/login/mfa',
  '/logout',
  '/mfa/recovery-codes',
  '/mfa/totp',
  '/mfa/totp/activate',
  '/oauth/introspect',
  '/oauth/revoke',
  '/oauth/token',
  '/password/change',
  '/password/forgot',
  '/password/reset',
  '/refresh',
  '/register',
  '/signin/passkey/options',
  '/webauthn/login/options',
  '/webauthn/register/options',
];
/** POST routes that take no body at all (userinfo: a Bearer token only). */
const BODYLESS_POSTS = ['/logout/all', '/userinfo'];
/** The browser's WebAuthn credential JSON is nested: JSON only, as every WebAuthn library sends it. */
const JSON_ONLY_POSTS = ['/webauthn/login', '/webauthn/register'];
/** The hosted pages' forms and the OpenID Connect browser endpoints: HTML forms, no JSON. */
const FORM_POSTS = ['/consent', '/oauth/authorize', '/oauth/end-session', '/signin', '/signin/passkey', '/signin/second-factor'];
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const PROBLEM_REF = '#/components/schemas/Problem';
/** /oauth/* answer RFC 6749 §5.2 errors instead of problem details. */
const OAUTH_ERROR_REF = '#/components/schemas/OAuthError';
/** swagger-parser's own document type (from openapi-types), without naming that package. */
type ApiDocument = Exclude<Parameters<typeof SwaggerParser.validate>[0], string>;

async function fetchDoc(t: Parameters<typeof buildTestApp>[0]): Promise<{ app: TestApp; doc: Doc }> {
  // Served as localhost: every route there is (the pages' passkey endpoints need a PUBLIC_URL browsers allow passkeys on).
  const app = await buildTestApp(t, { PUBLIC_URL: 'http://localhost:8000' });
  const res = await app.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  return { app, doc: res.json() as Doc };
}

function operations(doc: Doc): Array<{ key: string; path: string; method: string; op: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, op })),
  );
}

/**
 * Every (method, path) Fastify serves, read from printRoutes' tree: each line is a path
 * segment indented four columns per level, with the methods it answers in parentheses.
 */
function fastifyRoutes(app: FastifyInstance): string[] {
  const tree = app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[└├]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const url = stack.join('').replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    for (const method of m[3]?.split(', ') ?? []) routes.push(`${method} ${url}`);
  }
  return routes.sort();
}

/** Every `properties` name anywhere in the document. */
function propertyNames(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) propertyNames(item, into);
  } else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'properties' && child && typeof child === 'object' && !Array.isArray(child)) {
        for (const name of Object.keys(child)) into.add(name);
      }
      propertyNames(child, into);
    }
  }
  return into;
}

test('GET /openapi.json is a valid OpenAPI 3.1 document', async (t) => {
  const { doc } = await fetchDoc(t);
  assert.equal(doc.openapi, '3.1.0');
  const validated = await SwaggerParser.validate(structuredClone(doc) as unknown as ApiDocument);
  assert.ok(validated.paths && Object.keys(validated.paths).length > 0);
  // The validator is not a rubber stamp: a broken copy is refused.
  const broken = structuredClone(doc) as unknown as { paths: Record<string, Record<string, unknown>> };
  broken.paths['/me']!.get = { responses: 'none' };
  await assert.rejects(SwaggerParser.validate(broken as unknown as ApiDocument));
});

test('every route Fastify serves is documented with its method, and nothing else is', async (t) => {
  const { app, doc } = await fetchDoc(t);
  const served = fastifyRoutes(app.app);
  // The parser read the tree (these are known to exist).
  for (const route of ['GET /', 'GET /docs', 'GET /healthz', 'GET /metrics', 'POST /login', 'HEAD /me']) {
    assert.ok(served.includes(route), `printRoutes parse lost ${route}: ${served.join(', ')}`);
  }
  // HEAD is Fastify's automatic twin of GET; / (a redirect), Swagger UI's assets, the pages' stylesheet and passkey script are hidden.
  const hidden = ['GET /', 'GET /assets/gatehouse.css', 'GET /signin/passkey.js'];
  const expected = served.filter((r) => !r.startsWith('HEAD ') && !hidden.includes(r) && !/^GET \/docs(\/|$)/.test(r));
  const documented = operations(doc)
    .map((o) => o.key)
    .sort();
  assert.deepEqual(documented, [...new Set(expected)].sort());
  assert.deepEqual(documented, KNOWN_OPERATIONS);
  for (const key of KNOWN_OPERATIONS) {
    const [method, url] = key.split(' ') as [string, string];
    assert.ok(app.app.hasRoute({ method: method as 'GET' | 'POST', url: url.replace(/\{(\w+)\}/g, ':$1') }), `${key} is a Fastify route`);
  }
});

test('each POST that takes a body documents JSON and the x-www-form-urlencoded form alike', async (t) => {
  const { doc } = await fetchDoc(t);
  for (const { key, op } of operations(doc).filter((o) => o.method === 'post' && FORM_POSTS.includes(o.path))) {
    assert.ok(op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema, `${key}: form schema`);
  }
  const posts = operations(doc).filter(
    (o) => o.method === 'post' && !BODYLESS_POSTS.includes(o.path) && !FORM_POSTS.includes(o.path) && !JSON_ONLY_POSTS.includes(o.path),
  );
  assert.deepEqual(posts.map((o) => o.path).sort(), BODY_POSTS);
  for (const { key, op } of posts) {
    const content = op.requestBody?.content;
    assert.ok(content, `${key} documents a requestBody`);
    const json = content['application/json']?.schema;
    const form = content['application/x-www-form-urlencoded']?.schema;
    assert.ok(json, `${key}: application/json schema`);
    assert.ok(form, `${key}: application/x-www-form-urlencoded schema`);
    assert.deepEqual(form, json, `${key}: the form takes the same fields as JSON`);
  }
  // The OAuth2 password-flow fields Swagger UI posts are accepted on /login.
  const login = doc.paths['/login']!.post!.requestBody!.content!['application/x-www-form-urlencoded']!.schema as {
    properties: Json;
    required: string[];
  };
  assert.deepEqual(login.required.sort(), ['password', 'username']);
  for (const field of ['grant_type', 'scope', 'client_id', 'client_secret']) assert.ok(field in login.properties, field);
});

test('every operation documents a 2xx response with a schema (redirects excepted)', async (t) => {
  const { doc } = await fetchDoc(t);
  const missing: string[] = [];
  for (const { key, op } of operations(doc)) {
    const statuses = Object.keys(op.responses);
    if (statuses.length > 0 && statuses.every((s) => /^3/.test(s))) continue;
    if (statuses.includes('204')) continue; // No Content has no schema to document
    const ok = statuses
      .filter((s) => /^2/.test(s))
      .some((s) => Object.values(op.responses[s]!.content ?? {}).some((media) => media.schema !== undefined));
    if (!ok) missing.push(key);
  }
  assert.deepEqual(missing, [], `operations without a 2xx response schema: ${missing.join(', ')}`);
});

test('the document declares the wire conventions: redirects with Location and no body, 401 challenges, 429 Retry-After, no-store token responses, bodies that may be left out', async (t) => {
  const { app, doc } = await fetchDoc(t);
  const wrong: string[] = [];
  for (const { key, op } of operations(doc)) {
    for (const [status, response] of Object.entries(op.responses)) {
      const declares = (name: string) => response.headers?.[name]?.required === true;
      if (status === '303' && (response.content !== undefined || !declares('Location'))) wrong.push(`${key} 303: a body, or no Location`);
      if (status === '401' && !declares('WWW-Authenticate')) wrong.push(`${key} 401: no WWW-Authenticate`);
      if (status === '429' && !declares('Retry-After')) wrong.push(`${key} 429: no Retry-After`);
    }
  }
  assert.deepEqual(wrong, []);
  for (const key of ['POST /login', 'POST /refresh', 'POST /login/mfa', 'POST /oauth/token']) {
    const op = operations(doc).find((o) => o.key === key)!.op;
    assert.equal(op.responses['200']!.headers?.['Cache-Control']?.required, true, `${key}: Cache-Control: no-store`);
  }
  const bodyRequired = (key: string) => operations(doc).find((o) => o.key === key)!.op.requestBody?.required;
  assert.equal(bodyRequired('POST /login'), true);
  assert.equal(bodyRequired('POST /logout'), false, 'the refresh_token field is optional, and so is the body');
  assert.equal(bodyRequired('POST /refresh'), false, 'cookie mode and the query parameter send none');

  // What the document says of /logout is what the server does: no body at all is accepted.
  await register(app, { username: 'docs_user' });
  const tokens = await login(app, 'docs_user');
  const logout = await app.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(logout.statusCode, 200, logout.body);
});

test('4xx responses are problem details (RFC 6749 errors under /oauth/)', async (t) => {
  const { app, doc } = await fetchDoc(t);
  const problem = doc.components.schemas?.Problem as { properties: Json; required: string[] } | undefined;
  assert.ok(problem, 'components.schemas.Problem exists');
  for (const field of ['type', 'title', 'status', 'detail']) {
    assert.ok(field in problem.properties, `Problem.${field}`);
    assert.ok(problem.required.includes(field), `Problem.${field} is required`);
  }
  assert.ok('errors' in problem.properties);

  let seen = 0;
  for (const { key, op } of operations(doc)) {
    for (const [status, response] of Object.entries(op.responses)) {
      if (!/^4/.test(status)) continue;
      seen++;
      const content = response.content ?? {};
      assert.ok(Object.keys(content).length > 0, `${key} ${status} documents a body`);
      const oauth = key.includes(' /oauth/');
      for (const [type, media] of Object.entries(content)) {
        assert.equal(type, oauth ? 'application/json' : 'application/problem+json', `${key} ${status} media type`);
        assert.equal(media.schema?.$ref, oauth ? OAUTH_ERROR_REF : PROBLEM_REF, `${key} ${status} references its error schema`);
      }
    }
  }
  assert.ok(seen >= 10, `only ${seen} 4xx responses documented`);
  // The documented 401 on /login and /me is what the server sends.
  for (const key of ['POST /login', 'GET /me']) {
    const [method, path] = key.split(' ') as ['POST' | 'GET', string];
    assert.ok(doc.paths[path]![method.toLowerCase()]!.responses['401'], `${key} documents 401`);
  }
  const me = await app.app.inject({ method: 'GET', url: '/me' });
  assert.equal(me.statusCode, 401);
  assert.match(String(me.headers['content-type']), /^application\/problem\+json/);
  const login = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'nobody', password: PASSWORD } });
  assert.equal(login.statusCode, 401);
  assert.match(String(login.headers['content-type']), /^application\/problem\+json/);
});

test('/me and /logout declare bearer security; the public endpoints do not', async (t) => {
  const { doc } = await fetchDoc(t);
  const schemes = doc.components.securitySchemes ?? {};
  for (const [path, method] of [
    ['/me', 'get'],
    ['/logout', 'post'],
  ] as const) {
    const security = doc.paths[path]![method]!.security;
    assert.ok(security && security.length > 0, `${path} declares security`);
    for (const requirement of security) {
      for (const name of Object.keys(requirement)) assert.ok(name in schemes, `${path}: scheme ${name} is defined`);
    }
    const names = security.flatMap((r) => Object.keys(r));
    assert.ok(
      names.some((n) => {
        const s = schemes[n] as { type?: string; scheme?: string };
        return (s.type === 'http' && s.scheme?.toLowerCase() === 'bearer') || s.type === 'oauth2';
      }),
      `${path} accepts a bearer token`,
    );
  }
  assert.equal(doc.security, undefined, 'no global security requirement');
  for (const [path, method] of [
    ['/register', 'post'],
    ['/login', 'post'],
    ['/refresh', 'post'],
    ['/healthz', 'get'],
  ] as const) {
    const security = doc.paths[path]![method]!.security;
    assert.ok(security === undefined || security.length === 0, `${path} is public`);
  }
});

test('the OAuth2 password flow (Swagger UI\'s Authorize) posts to /login', async (t) => {
  const { doc } = await fetchDoc(t);
  const flows = Object.values(doc.components.securitySchemes ?? {})
    .filter((s) => s.type === 'oauth2')
    .map((s) => (s.flows as { password?: { tokenUrl: string } }).password)
    .filter((f) => f !== undefined);
  assert.equal(flows.length, 1, 'exactly one OAuth2 password flow');
  assert.equal(flows[0]!.tokenUrl, '/login');
});

test('the OAuth2 refreshUrl the document advertises takes an RFC 6749 §6 refresh request', async (t) => {
  const { app, doc } = await fetchDoc(t);
  const flow = Object.values(doc.components.securitySchemes ?? {})
    .filter((s) => s.type === 'oauth2')
    .map((s) => (s.flows as { password?: { tokenUrl: string; refreshUrl?: string } }).password)
    .find((f) => f !== undefined);
  assert.ok(flow);
  // Advertising no refreshUrl would also satisfy the contract; advertising one promises this.
  if (flow.refreshUrl === undefined) return;

  const form = (fields: Record<string, string>) => ({
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });
  const registered = await app.app.inject({ method: 'POST', url: '/register', payload: { username: 'oauthie', email: 'oauthie@example.com', password: PASSWORD } });
  assert.equal(registered.statusCode, 200, registered.body);
  // What an OAuth2 client (Swagger UI's Authorize) sends to tokenUrl...
  const token = await app.app.inject({
    method: 'POST',
    url: flow.tokenUrl,
    remoteAddress: '10.99.0.1',
    ...form({ grant_type: 'password', username: 'oauthie', password: PASSWORD, scope: '' }),
  });
  assert.equal(token.statusCode, 200, token.body);
  // ...and then to refreshUrl: grant_type=refresh_token plus the token (RFC 6749 §6).
  const refreshed = await app.app.inject({
    method: 'POST',
    url: flow.refreshUrl,
    remoteAddress: '10.99.0.1',
    ...form({ grant_type: 'refresh_token', refresh_token: token.json().refresh_token }),
  });
  assert.equal(refreshed.statusCode, 200, `POST ${flow.refreshUrl} with grant_type=refresh_token: ${refreshed.body}`);
  assert.equal(typeof refreshed.json().access_token, 'string');
});

test('no schema in the document has a password_hash property, and the JWK schema has no private members', async (t) => {
  const { doc } = await fetchDoc(t);
  const names = propertyNames(doc);
  // The walk reaches request and response schemas alike.
  for (const name of ['password', 'access_token', 'refresh_token', 'email_verified', 'detail']) {
    assert.ok(names.has(name), `walk found ${name}`);
  }
  for (const secret of ['password_hash', 'passwordHash', 'refresh_hash', 'private_jwk']) {
    assert.ok(!names.has(secret), `a schema exposes ${secret}`);
  }
  const jwks = doc.paths['/.well-known/jwks.json']!.get!.responses['200']!.content!['application/json']!.schema as {
    properties: { keys: { items: { properties: Json } } };
  };
  const jwkFields = Object.keys(jwks.properties.keys.items.properties);
  assert.ok(jwkFields.includes('kid') && jwkFields.includes('kty'));
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
    assert.ok(!jwkFields.includes(member), `JWK schema exposes private member ${member}`);
  }
});

// The contract's second-factor answer to POST /login: the document left it out (a black-box
// audit read /login's responses as 200, 400, 401, 413, 415, 429), and described it under
// /refresh instead, whose 403 is the refresh cookie's CSRF check.
test('POST /login documents the 403 mfa_required it sends, with mfa_token and factors in its schema', async (t) => {
  const { app, doc } = await fetchDoc(t);
  await register(app, { username: 'openapimfa' });
  const { access_token: token } = await login(app, 'openapimfa');
  await enrolTotp(app, token);
  const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username: 'openapimfa', password: PASSWORD }, remoteAddress: freshIp() });
  assert.equal(res.statusCode, 403);
  const body = res.json() as Json;
  assert.equal(body.code, 'mfa_required');

  const documented = doc.paths['/login']!.post!.responses['403'];
  assert.ok(documented, 'POST /login documents 403');
  assert.match(documented.description ?? '', /mfa_required/);
  assert.equal(documented.content?.['application/problem+json']?.schema?.$ref, PROBLEM_REF);
  const properties = (doc.components.schemas?.Problem as { properties: Json }).properties;
  for (const field of Object.keys(body)) assert.ok(field in properties, `Problem documents ${field}`);
  assert.doesNotMatch(doc.paths['/refresh']!.post!.responses['403']?.description ?? '', /mfa_required/, '/refresh does not claim the login\'s 403');
});
