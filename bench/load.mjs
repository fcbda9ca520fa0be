// One autocannon run, in its own process (forked by bench/run.ts), so that the load
// generator never shares an event loop with the driver, the server or another load.
//
// The parent sends one message { spec }; this process answers { result } and exits.
// spec.kind says how requests are made:
//   static    one fixed request (method, path, headers, body)
//   hot       GET spec.path with the Bearer tokens of spec.tokensFile, round robin (each
//             connection walks the whole list from its own offset; requests are pre-built,
//             no per-request JS)
//   cold      GET spec.path, each token of spec.tokensFile sent exactly once (a shared
//             cursor); the run is sized by count (spec.amount <= number of tokens)
//   refresh   POST /refresh, each request with a refresh token taken from a shared pool
//             (spec.poolFile) and never used again; the rotated token each answer carries
//             goes back into the pool. Access tokens of the answers are collected.
//   login     POST /login for the users of spec.usersFile, round robin
//   register  POST /register with a unique username and email per request (a counter)
//   mfa-login     POST /login (403 mfa_required) then POST /login/mfa with a TOTP code: the
//                 users of spec.totpFile (bench/totp-steps.mjs: each step of a factor used once)
//   mfa-password  POST /login for the TOTP users only (403 mfa_required); the mfa_tokens go
//                 to spec.collectFile ({ token, index } a line)
//   mfa-step      POST /login/mfa, each mfa_token of spec.tokensFile once, with a code
//                 of its user's factor computed when it is sent
//   passkey-login POST /webauthn/login/options then POST /webauthn/login with an assertion
//                 of the software authenticator (bench/soft-authenticator.mjs); each
//                 connection owns its credentials, whose counters go back to spec.credentialsFile
//   authorize     GET /oauth/authorize with the sign-in cookie (303 to the redirect URI), a
//                 fresh PKCE verifier each; { code, verifier } a line to spec.collectFile
//   code-exchange POST /oauth/token grant_type=authorization_code, each code of
//                 spec.tokensFile once; the access tokens go to spec.collectFile
// Each request says what it expects (2xx unless said otherwise: the password step of an
// MFA login expects 403, the authorization endpoint 303); any other answer counts in
// `unexpected` and the driver fails the run (bench/lib/processes.ts).
// Connections: when an answer says `Connection: close` (the server's maxRequestsPerSocket,
// or a shutdown), the connection is closed and a new one opened before the next request,
// as any HTTP client does; autocannon itself would go on writing to the closing socket
// (and Node answers such requests 503). `reconnects` counts them.
// Latencies are recorded here from autocannon's 'response' events (2xx only, microsecond
// resolution: autocannon's own histogram keeps whole milliseconds).
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { URLSearchParams } from 'node:url';
import autocannon from 'autocannon';
import { assertionResponse } from './soft-authenticator.mjs';
import { loadTotpState, reserveStep, reserveStepFor, saveTotpState } from './totp-steps.mjs';

function readLines(file) {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function buildOptions(spec, collected) {
  const base = {
    url: spec.url,
    // autocannon refuses fewer requests than connections
    connections: spec.amount ? Math.max(1, Math.min(spec.connections, spec.amount)) : spec.connections,
    pipelining: 1,
    timeout: spec.timeout ?? 30,
    ...(spec.amount ? { amount: spec.amount } : { duration: spec.duration }),
    ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
  };
  // A fresh object per request: autocannon writes Content-Length into the headers it is given.
  const json = () => ({ 'content-type': 'application/json' });
  switch (spec.kind) {
    case 'static':
      // The path goes in the URL (autocannon takes the path from it, not from a `path` option).
      return { ...base, url: spec.url + spec.path, method: spec.method ?? 'GET', headers: spec.headers ?? {}, ...(spec.body ? { body: spec.body } : {}) };
    case 'hot': {
      const tokens = readLines(spec.tokensFile);
      const request = (t) => ({ method: 'GET', path: spec.path, headers: { authorization: `Bearer ${t}` } });
      const connections = base.connections;
      let client = 0;
      return {
        ...base,
        // One placeholder: every connection replaces it with its own list (setupClient), so
        // the requests are built once per connection, not twice.
        requests: [request(tokens[0])],
        // Each connection starts at its own offset in the list: were they all to walk it in
        // step, every token would arrive on 32 connections at once, which no real set of
        // clients does (and which defeats any cache on its first pass).
        setupClient(c) {
          const offset = Math.floor((client++ * tokens.length) / connections) % tokens.length;
          c.setRequests([...tokens.slice(offset), ...tokens.slice(0, offset)].map(request));
        },
      };
    }
    case 'cold': {
      const tokens = readLines(spec.tokensFile);
      let next = spec.start ?? 0;
      return {
        ...base,
        requests: [
          {
            method: 'GET',
            path: spec.path,
            setupRequest(req) {
              // Past the end (autocannon builds one request ahead on some connections)
              // a malformed token is sent: it would show as a non-2xx, never as a reuse.
              const t = next < tokens.length ? tokens[next++] : 'exhausted';
              req.headers = { authorization: `Bearer ${t}` };
              return req;
            },
          },
        ],
      };
    }
    case 'refresh': {
      const pool = readLines(spec.poolFile);
      const max = spec.collectMax ?? 0;
      collected.accessTokens = [];
      collected.pool = pool;
      collected.lost = 0;
      return {
        ...base,
        method: 'POST',
        requests: [
          {
            method: 'POST',
            path: '/refresh',
            setupRequest(req) {
              const t = pool.shift();
              if (t === undefined) collected.lost++;
              req.headers = json();
              req.body = JSON.stringify({ refresh_token: t ?? 'ghr_pool_exhausted' });
              return req;
            },
            onResponse(status, body) {
              if (status !== 200) return;
              const parsed = JSON.parse(body);
              pool.push(parsed.refresh_token);
              if (collected.accessTokens.length < max) collected.accessTokens.push(parsed.access_token);
            },
          },
        ],
      };
    }
    case 'login': {
      const users = JSON.parse(readFileSync(spec.usersFile, 'utf8'));
      let i = spec.start ?? 0;
      return {
        ...base,
        requests: [
          {
            method: 'POST',
            path: '/login',
            setupRequest(req) {
              const u = users[i++ % users.length];
              req.headers = json();
              req.body = JSON.stringify({ username: u.username, password: u.password });
              return req;
            },
          },
        ],
      };
    }
    case 'register': {
      let n = 0;
      return {
        ...base,
        requests: [
          {
            method: 'POST',
            path: '/register',
            setupRequest(req) {
              const username = `${spec.prefix}${(n++).toString(36)}`;
              req.headers = json();
              req.body = JSON.stringify({ username, email: `${username}@bench.example`, password: spec.password });
              return req;
            },
          },
        ],
      };
    }
    case 'mfa-login':
    case 'mfa-password': {
      const state = loadTotpState(spec.totpFile);
      const twoSteps = spec.kind === 'mfa-login';
      collected.totpState = state;
      collected.lines = [];
      const password = {
        method: 'POST',
        path: '/login',
        step: 'password',
        expect: 403,
        setupRequest(req, context) {
          // The step is reserved now, with room for the password check's argon2 in between
          // (mfa-password: the code is computed when the token is used, by mfa-step).
          let r;
          if (twoSteps) r = reserveStep(state, Date.now(), 5000);
          else {
            const index = state.next++ % state.users.length;
            r = { index, user: state.users[index] };
          }
          if (!r) collected.exhausted = (collected.exhausted ?? 0) + 1;
          context.reserved = r;
          context.t0 = process.hrtime.bigint();
          req.headers = json();
          req.body = JSON.stringify({ username: r?.user.username ?? 'totp-users-exhausted', password: r?.user.password ?? 'x' });
          return req;
        },
        onResponse(status, body, context) {
          if (status !== 403) return;
          context.mfaToken = JSON.parse(body).mfa_token;
          if (!twoSteps) collected.lines.push(JSON.stringify({ token: context.mfaToken, index: context.reserved?.index }));
        },
      };
      const second = {
        method: 'POST',
        path: '/login/mfa',
        step: 'second',
        last: true,
        setupRequest(req, context) {
          req.headers = json();
          req.body = JSON.stringify({ mfa_token: context.mfaToken ?? 'none', code: context.reserved?.code ?? '000000' });
          return req;
        },
      };
      return { ...base, requests: twoSteps ? [password, second] : [{ ...password, last: true }] };
    }
    case 'mfa-step': {
      const state = loadTotpState(spec.totpFile);
      collected.totpState = state;
      const tokens = readLines(spec.tokensFile).map((l) => JSON.parse(l));
      let next = spec.start ?? 0;
      return {
        ...base,
        requests: [
          {
            method: 'POST',
            path: '/login/mfa',
            step: 'second',
            setupRequest(req) {
              const t = next < tokens.length ? tokens[next++] : undefined;
              const r = t && reserveStepFor(state, t.index, Date.now(), 3000);
              if (t && !r) collected.exhausted = (collected.exhausted ?? 0) + 1;
              req.headers = json();
              req.body = JSON.stringify({ mfa_token: t?.token ?? 'exhausted', code: r?.code ?? '000000' });
              return req;
            },
          },
        ],
      };
    }
    case 'passkey-login': {
      const credentials = JSON.parse(readFileSync(spec.credentialsFile, 'utf8'));
      const keys = credentials.map((c) => createPrivateKey(c.privateKeyPem));
      collected.credentials = credentials;
      const connections = base.connections;
      const owned = [];
      let client = 0;
      return {
        ...base,
        // Each connection owns the credentials i with i % connections == its number, one
        // login at a time each: an authenticator's counter only moves forward.
        // (autocannon deep-copies the context at each pass over the requests: the turns live here.)
        setupClient(c) {
          const owner = client++;
          const mine = [];
          for (let i = owner; i < credentials.length; i += connections) mine.push(i);
          if (mine.length === 0) throw new Error(`passkey-login: ${credentials.length} credentials for ${connections} connections`);
          owned[owner] = { mine, turn: 0 };
          c.requestIterator.initialContext = { owner };
          c.requestIterator.resetContext();
        },
        requests: [
          {
            method: 'POST',
            path: '/webauthn/login/options',
            step: 'options',
            setupRequest(req, context) {
              context.t0 = process.hrtime.bigint();
              req.headers = json();
              req.body = '{}';
              return req;
            },
            onResponse(status, body, context) {
              if (status === 200) context.challenge = JSON.parse(body).challenge;
            },
          },
          {
            method: 'POST',
            path: '/webauthn/login',
            step: 'assertion',
            last: true,
            setupRequest(req, context) {
              const own = owned[context.owner];
              const i = own.mine[own.turn++ % own.mine.length];
              req.headers = json();
              req.body = JSON.stringify({ response: assertionResponse(credentials[i], context.challenge ?? 'none', keys[i]) });
              return req;
            },
          },
        ],
      };
    }
    case 'authorize': {
      collected.lines = [];
      const query = new URLSearchParams(spec.authorize);
      return {
        ...base,
        requests: [
          {
            method: 'GET',
            step: 'authorize',
            expect: 303,
            setupRequest(req, context) {
              const verifier = randomBytes(32).toString('base64url');
              context.verifier = verifier;
              query.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
              query.set('state', randomBytes(8).toString('base64url'));
              req.path = `/oauth/authorize?${query}`;
              req.headers = { cookie: spec.cookie };
              return req;
            },
            onResponse(status, _body, context, headers) {
              if (status !== 303) return;
              const code = new URL(headers.location ?? headers.Location).searchParams.get('code');
              if (code) collected.lines.push(JSON.stringify({ code, verifier: context.verifier }));
            },
          },
        ],
      };
    }
    case 'code-exchange': {
      const codes = readLines(spec.tokensFile).map((l) => JSON.parse(l));
      let next = spec.start ?? 0;
      collected.lines = [];
      const max = spec.collectMax ?? 0;
      return {
        ...base,
        requests: [
          {
            method: 'POST',
            path: '/oauth/token',
            step: 'exchange',
            setupRequest(req) {
              const c = next < codes.length ? codes[next++] : { code: 'exhausted', verifier: 'x'.repeat(43) };
              req.headers = { 'content-type': 'application/x-www-form-urlencoded' };
              req.body = new URLSearchParams({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: spec.redirectUri, client_id: spec.clientId }).toString();
              return req;
            },
            onResponse(status, body) {
              if (status === 200 && collected.lines.length < max) collected.lines.push(JSON.parse(body).access_token);
            },
          },
        ],
      };
    }
    default:
      throw new Error(`unknown load kind ${spec.kind}`);
  }
}

/**
 * Closes the connection after an answer that says `Connection: close` and opens a new one
 * for the next request, as an HTTP client does (autocannon would write the next request to
 * the closing socket). Counts in `counters.reconnects`.
 */
function reconnectOnClose(client, counters) {
  let closing = false;
  client.on('headers', (info) => {
    if (!info.shouldKeepAlive) closing = true;
  });
  const doRequest = client._doRequest;
  client._doRequest = function () {
    if (closing) {
      closing = false;
      counters.reconnects++;
      // _connect sends the next request (through this method again) on the new socket.
      this._destroyConnection();
      this._connect();
      return;
    }
    return doRequest.call(this);
  };
}

const expected = (request, status) => (request?.expect ? status === request.expect : status >= 200 && status < 300);

async function run(spec) {
  const collected = {};
  const opts = buildOptions(spec, collected);
  const counters = { reconnects: 0 };
  const ownSetup = opts.setupClient;
  opts.setupClient = (client) => {
    reconnectOnClose(client, counters);
    ownSetup?.(client);
  };
  // A flow (several requests, the last one marked `last`) counts once, when its last answer comes.
  const flow = (opts.requests ?? []).some((r) => r.last) && opts.requests.length > 1;
  const latencies = [];
  const stepLatencies = {};
  const unexpected = {};
  let responses = 0;
  let okResponses = 0;
  let lastResponse = 0n;
  let cpu0 = process.cpuUsage();
  let started = process.hrtime.bigint();
  const result = await new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, res) => (err ? reject(err) : resolve(res)));
    // autocannon builds its connections, and each one's request buffers, synchronously in
    // that call: the load starts when it returns. (Timed from before it, the hot runs, whose
    // 32 connections build 1 000 requests each, counted ~1 s without load in their rate.)
    started = process.hrtime.bigint();
    cpu0 = process.cpuUsage();
    instance.on('response', (client, statusCode, _bytes, responseTime) => {
      responses++;
      lastResponse = process.hrtime.bigint();
      // The request this answers (autocannon moves to the next one only after this event).
      const request = client.requestIterator.currentRequest;
      const step = request?.step ?? 'request';
      if (!expected(request, statusCode)) {
        const key = `${step} ${statusCode}`;
        unexpected[key] = (unexpected[key] ?? 0) + 1;
        return;
      }
      // A connection's first request is written while autocannon is still building the
      // other connections: its time includes that set-up, not the server's answer.
      const queuedInSetup = lastResponse - BigInt(Math.round(responseTime * 1e6)) < started;
      if (!queuedInSetup) (stepLatencies[step] ??= []).push(responseTime);
      if (flow && !request.last) return;
      okResponses++;
      // A flow of several requests: from its first request's start to its last answer.
      const t0 = client.requestIterator.context.t0;
      if (!queuedInSetup) latencies.push(flow && t0 ? Number(lastResponse - t0) / 1e6 : responseTime);
    });
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  // autocannon notices the end of a run only on its 1-second sampling tick, so its
  // `duration` can be up to a second long for a run sized by count: the rate is taken
  // from the time of the last response instead.
  const active = Number(lastResponse - started) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const sorted = Float64Array.from(latencies).sort();
  const total = result.requests.total;
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
  if (spec.collectFile && spec.kind === 'refresh') {
    writeFileSync(spec.collectFile, JSON.stringify({ pool: collected.pool, accessTokens: collected.accessTokens, lost: collected.lost }));
  } else if (spec.collectFile && collected.lines) {
    writeFileSync(spec.collectFile, collected.lines.join('\n'));
  }
  if (collected.totpState) saveTotpState(spec.totpFile, collected.totpState);
  if (collected.credentials) writeFileSync(spec.credentialsFile, JSON.stringify(collected.credentials));
  const problems = [];
  if (collected.exhausted) problems.push(`${collected.exhausted} requests found no TOTP step left to use (too few TOTP users for this run)`);
  if (collected.lost) problems.push(`${collected.lost} refreshes found the token pool empty`);
  const nonExpected = Object.values(unexpected).reduce((a, b) => a + b, 0);
  return {
    kind: spec.kind,
    connections: spec.connections,
    overallRate: spec.overallRate ?? null,
    duration: Math.round(active * 100) / 100,
    autocannonDuration: result.duration,
    wall,
    total,
    // Completed requests (a flow of several requests counts once, at its last answer).
    ok: okResponses,
    rps: responses / active,
    okRps: okResponses / active,
    // Answers other than the one each request expects (2xx unless it says otherwise).
    non2xx: nonExpected,
    unexpected,
    errors: result.errors,
    timeouts: result.timeouts,
    reconnects: counters.reconnects,
    problems,
    statusCodes,
    ...(flow
      ? {
          steps: Object.fromEntries(
            Object.entries(stepLatencies).map(([k, v]) => {
              const st = Float64Array.from(v).sort();
              return [k, { ok: v.length, p50: percentile(st, 50), p99: percentile(st, 99) }];
            }),
          ),
        }
      : {}),
    // CPU the load generator itself used, in cores (1 = one core busy for the whole run)
    loadgenCores: (cpu.user + cpu.system) / 1e6 / wall,
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1] : null,
      mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null,
      // autocannon's own figure (whole ms; corrected for coordinated omission under a fixed rate)
      autocannonP99: result.latency.p99,
    },
  };
}

process.once('message', async ({ spec }) => {
  try {
    const result = await run(spec);
    process.send({ result }, () => process.exit(0));
  } catch (error) {
    process.send({ error: String(error?.stack ?? error) }, () => process.exit(1));
  }
});
