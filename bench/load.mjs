// One autocannon run, in its own process (forked by bench/run.mjs), so that the load
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
// Latencies are recorded here from autocannon's 'response' events (2xx only, microsecond
// resolution: autocannon's own histogram keeps whole milliseconds).
import { readFileSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';

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
        requests: tokens.map(request),
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
    default:
      throw new Error(`unknown load kind ${spec.kind}`);
  }
}

async function run(spec) {
  const collected = {};
  const opts = buildOptions(spec, collected);
  const latencies = [];
  let responses = 0;
  let okResponses = 0;
  let lastResponse = 0n;
  const cpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  const result = await new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      responses++;
      lastResponse = process.hrtime.bigint();
      if (statusCode >= 200 && statusCode < 300) {
        okResponses++;
        latencies.push(responseTime);
      }
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
  const ok = result['2xx'];
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
  if (spec.collectFile && spec.kind === 'refresh') {
    writeFileSync(spec.collectFile, JSON.stringify({ pool: collected.pool, accessTokens: collected.accessTokens, lost: collected.lost }));
  }
  return {
    kind: spec.kind,
    connections: spec.connections,
    overallRate: spec.overallRate ?? null,
    duration: Math.round(active * 100) / 100,
    autocannonDuration: result.duration,
    wall,
    total,
    ok,
    rps: responses / active,
    okRps: okResponses / active,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
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
