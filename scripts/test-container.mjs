#!/usr/bin/env node
// npm run test:container: the image and the compose file, in a real container engine.
//
// Installs docker.io, docker-compose and debootstrap when missing (Debian's packages; needs
// root), starts dockerd when none answers (no bridge, no iptables: every container runs on
// the host's network, so no traffic leaves the loopback interface) and stops it at the end,
// builds the base image offline (scripts/container-base.sh) and the image, then:
//   - one container on SQLite, read-only root, a named volume on /data: register and log in
//     over HTTP, restart, log in again (the data survived); non-root PID 1; the HEALTHCHECK
//     turns healthy; `docker stop` during a login held in flight (its body completes only
//     after the server logged SIGTERM): the login completes, the exit is clean and the
//     database was closed;
//   - compose.yaml: `docker-compose config` validates it; its two Gatehouse replicas run
//     through compose.host.yaml against this machine's PostgreSQL (a schema of their own,
//     DATABASE_URL from a secret file) and Redis: a logout on one is refused on the other.
// Prints one line per check and `N passed, N failed`; exits 1 on any failure.
import { randomBytes } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';

const { fetch, AbortSignal } = globalThis;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Debian's client matches Debian's engine; another `docker` on PATH may be far newer.
const DOCKER = process.env.DOCKER ?? (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker');
const COMPOSE = process.env.DOCKER_COMPOSE ?? 'docker-compose';
const IMAGE = process.env.GATEHOUSE_IMAGE ?? 'gatehouse:test';
const PG_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATA_ROOT = process.env.DOCKER_DATA_ROOT ?? '/var/lib/gatehouse-docker';
const RUN_ID = `${process.pid}${Date.now().toString(36)}`;
const PASSWORD = 'Container-test-1';
// The legacy builder: it takes the base from the local image store, never from a registry.
const BUILD_ENV = { ...process.env, DOCKER_BUILDKIT: '0', DOCKER: DOCKER };

const results = [];
const timings = {};
const cleanups = [];

function log(line) {
  process.stdout.write(`${line}\n`);
}

/** One named check; a failure is recorded and the run goes on with the next check. */
async function check(name, fn) {
  try {
    const note = await fn();
    results.push({ name, ok: true });
    log(`ok - ${name}${note ? ` (${note})` : ''}`);
    return true;
  } catch (error) {
    results.push({ name, ok: false });
    log(`not ok - ${name}\n    ${String(error?.message ?? error).split('\n').join('\n    ')}`);
    return false;
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Runs a command; rejects with its output when it fails (unless allowFailure). */
function run(cmd, args, { env = process.env, allowFailure = false, input, stream = false, timeoutMs = 30 * 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let stdout = '';
    const collect = (chunk) => {
      out += chunk;
      if (stream) process.stdout.write(`    | ${chunk.toString().replace(/\n(?=.)/g, '\n    | ')}`);
    };
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      collect(chunk);
    });
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 || allowFailure) resolve({ code, out: out.trim(), stdout });
      else reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${code}:\n${out.trim().split('\n').slice(-25).join('\n')}`));
    });
    child.stdin.end(input ?? '');
  });
}

const docker = (args, options) => run(DOCKER, args, options);

function commandExists(name) {
  return new Promise((resolve) => execFile('sh', ['-c', `command -v ${name}`], (error) => resolve(!error)));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function http(port, method, pathname, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

/** Polls url until it answers 200; returns the milliseconds it took from `since`. */
async function waitFor200(port, pathname, since, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}${pathname}`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return Date.now() - since;
      last = `status ${response.status}`;
    } catch (error) {
      last = error.cause?.code ?? error.message;
    }
    await sleep(50);
  }
  throw new Error(`${pathname} on port ${port} not 200 after ${timeoutMs} ms (${last})`);
}

async function dockerAnswers() {
  const { code } = await docker(['info', '--format', '{{.ServerVersion}}'], { allowFailure: true, timeoutMs: 20_000 });
  return code === 0;
}

// ---------------------------------------------------------------------------------------
// The engine.

let startedDockerd;

async function ensureEngine() {
  const missing = [];
  if (!(await commandExists('dockerd')) || !existsSync(DOCKER === 'docker' ? '/usr/bin/docker' : DOCKER)) missing.push('docker.io');
  if (!(await commandExists(COMPOSE))) missing.push('docker-compose');
  if (!(await commandExists('debootstrap'))) missing.push('debootstrap');
  if (missing.length > 0) {
    log(`# installing ${missing.join(', ')} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-qq'], { env });
    await run('apt-get', ['install', '-y', '-qq', ...missing], { env });
  }
  if (await dockerAnswers()) {
    log('# using the running Docker engine');
    return;
  }
  log(`# starting dockerd (no bridge, no iptables; data root ${DATA_ROOT})`);
  const logFile = path.join(tmpdir(), `gatehouse-dockerd-${RUN_ID}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(
    'dockerd',
    ['--bridge=none', '--iptables=false', '--ip-masq=false', `--data-root=${DATA_ROOT}`, '--pidfile=/run/gatehouse-dockerd.pid'],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  child.unref();
  startedDockerd = { pid: child.pid, logFile };
  const deadline = Date.now() + 90_000;
  while (!(await dockerAnswers())) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`dockerd did not come up; see ${logFile}`);
    await sleep(500);
  }
}

async function stopEngine() {
  if (!startedDockerd) return;
  const { pid } = startedDockerd;
  log(`# stopping the dockerd this run started (pid ${pid})`);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 120; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(250);
  }
  log(`# dockerd ${pid} still running after 30 s`);
}

// ---------------------------------------------------------------------------------------
// The image, on SQLite.

async function imageChecks() {
  const port = await freePort();
  const volume = `gatehouse-test-${RUN_ID}`;
  const name = `gatehouse-test-${RUN_ID}`;
  cleanups.push(() => docker(['rm', '-f', name], { allowFailure: true }));
  cleanups.push(() => docker(['volume', 'rm', '-f', volume], { allowFailure: true }));
  await docker(['volume', 'create', volume]);
  const user = { username: `box${RUN_ID.slice(-8)}`, email: `box${RUN_ID.slice(-8)}@example.com`, password: PASSWORD };

  const runArgs = [
    'run', '-d', '--name', name, '--network', 'host', '--read-only', '-v', `${volume}:/data`,
    '-e', `PORT=${port}`, '-e', 'EMAIL_FLOWS=false',
    '--health-interval', '1s', '--health-start-period', '30s',
    IMAGE,
  ];
  let started = Date.now();
  const ran = await check('docker run: the server answers /healthz', async () => {
    await docker(runArgs);
    timings.firstStartMs = await waitFor200(port, '/healthz', started);
    return `${timings.firstStartMs} ms from docker run, empty volume (migrations, key generation)`;
  });
  if (!ran) {
    log((await docker(['logs', '--tail', '30', name], { allowFailure: true })).out);
    return;
  }

  await check('runs as the unprivileged user: PID 1 is node with uid 1000, not root', async () => {
    const { out: configured } = await docker(['inspect', '-f', '{{.Config.User}}', name]);
    assert(configured === 'node', `image USER is "${configured}"`);
    const { out: status } = await docker(['exec', name, 'cat', '/proc/1/status']);
    const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
    assert(uid && uid[1] === '1000' && uid[2] === '1000', `PID 1 uids: ${uid?.[0]}`);
    const { out: cmdline } = await docker(['exec', name, 'cat', '/proc/1/cmdline']);
    const argv = cmdline.split('\0');
    assert(argv[0] === 'node' && argv.includes('--max-semi-space-size=4') && argv.includes('serve'), `PID 1 is ${argv.join(' ')}`);
  });

  await check('runs with a read-only root file system (the server only writes /data)', async () => {
    const { out } = await docker(['inspect', '-f', '{{.HostConfig.ReadonlyRootfs}}', name]);
    assert(out === 'true', `ReadonlyRootfs=${out}`);
    const tmp = await docker(['exec', name, 'touch', '/tmp/probe'], { allowFailure: true });
    assert(tmp.code !== 0 && /read-only/i.test(tmp.out), `writing /tmp: ${tmp.code} ${tmp.out}`);
  });

  await check('register and log in over HTTP', async () => {
    const registered = await http(port, 'POST', '/register', { body: user });
    assert(registered.status === 200, `register: ${registered.status} ${registered.text}`);
    const login = await http(port, 'POST', '/login', { body: { username: user.username, password: PASSWORD } });
    assert(login.status === 200 && login.json?.access_token, `login: ${login.status} ${login.text}`);
    const me = await http(port, 'GET', '/me', { token: login.json.access_token });
    assert(me.status === 200 && me.json.username === user.username, `me: ${me.status} ${me.text}`);
  });

  await check('the `gatehouse` command works inside the container (audit trail of that login)', async () => {
    const { out } = await docker(['exec', name, 'gatehouse', 'audit', '--type', 'login_succeeded', '--json']);
    assert(out.includes('"type":"login_succeeded"'), `gatehouse audit printed: ${out.slice(0, 400)}`);
  });

  await check('the HEALTHCHECK turns healthy', async () => {
    const deadline = Date.now() + 90_000;
    let health = '';
    while (Date.now() < deadline) {
      health = (await docker(['inspect', '-f', '{{.State.Health.Status}}', name])).out;
      if (health === 'healthy') return undefined;
      await sleep(500);
    }
    throw new Error(`health status: ${health}`);
  });

  await check('docker restart: the data survived, the same user logs in again', async () => {
    started = Date.now();
    await docker(['restart', '-t', '20', name]);
    timings.restartMs = await waitFor200(port, '/healthz', started);
    const login = await http(port, 'POST', '/login', { body: { username: user.username, password: PASSWORD } });
    assert(login.status === 200 && login.json?.access_token, `login after restart: ${login.status} ${login.text}`);
    return `docker restart to /healthz 200: ${timings.restartMs} ms`;
  });

  await check('docker stop during a login: the login completes, exit 0, the database closed', async () => {
    // The login is held in flight by its body: headers and half the body go first, the rest
    // only once the server has logged that SIGTERM arrived. No race with the engine's speed.
    const body = JSON.stringify({ username: user.username, password: PASSWORD });
    const request = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const answered = new Promise((resolve, reject) => {
      request.on('response', (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode, text, at: Date.now() }));
      });
      request.on('error', reject);
    });
    request.write(body.slice(0, 10));
    await sleep(500); // the server has the headers: the request has begun
    // Follow the log as it is written, to send the rest of the body the moment SIGTERM is in
    // (the restart above logged one shutdown already: wait for one more).
    const SHUTDOWN = 'shutting down: finishing in-flight requests';
    const before = (await docker(['logs', name])).out.split(SHUTDOWN).length;
    const follower = spawn(DOCKER, ['logs', '--follow', name], { stdio: ['ignore', 'pipe', 'pipe'] });
    const signalled = new Promise((resolve) => {
      let seen = '';
      follower.stdout.on('data', (chunk) => {
        seen += chunk;
        if (seen.split(SHUTDOWN).length > before) resolve(true);
      });
      follower.on('close', () => resolve(false));
      setTimeout(() => resolve(false), 20_000).unref();
    });
    const stopSentAt = Date.now();
    const stopping = docker(['stop', '-t', '30', name]);
    const sawSignal = await signalled;
    follower.kill();
    request.end(body.slice(10));
    assert(sawSignal, 'the server did not log its SIGTERM within 20 s of docker stop');
    const login = await answered;
    await stopping;
    const stopMs = Date.now() - stopSentAt;
    assert(login.status === 200 && JSON.parse(login.text).access_token, `in-flight login: ${login.status} ${login.text}`);
    const { out: state } = await docker(['inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', name]);
    assert(state === '0 false', `exit code and OOM: ${state} (137 would mean SIGKILL after the grace period)`);
    assert(stopMs < 15_000, `docker stop took ${stopMs} ms`);
    const { out: logs } = await docker(['logs', name]);
    // The server's own log: SIGTERM arrived, then the login was answered.
    const lines = logs.split('\n');
    const shutdownAt = lines.findLastIndex((line) => line.includes('shutting down: finishing in-flight requests') && line.includes('"signal":"SIGTERM"'));
    const loginAt = lines.findLastIndex((line) => line.includes('"url":"/login"') && line.includes('"status":200'));
    assert(shutdownAt >= 0 && loginAt > shutdownAt, 'the log does not show SIGTERM before the login\'s answer');
    // SQLite removes the write-ahead log when its last connection closes cleanly.
    const wal = await docker(
      ['run', '--rm', '--network', 'none', '-v', `${volume}:/data`, '--entrypoint', 'ls', IMAGE, '-A', '/data'],
    );
    assert(/gatehouse\.sqlite/.test(wal.out) && !/-wal/.test(wal.out), `/data holds: ${wal.out.split('\n').join(' ')}`);
    return `login answered ${login.at - stopSentAt} ms after docker stop was sent, after the server logged SIGTERM; stop took ${stopMs} ms`;
  });
}

// ---------------------------------------------------------------------------------------
// compose.yaml

async function composeChecks() {
  const composeEnv = { ...process.env, PUBLIC_URL: 'http://127.0.0.1:8001', GATEHOUSE_IMAGE: IMAGE };
  await check('docker-compose config validates compose.yaml (and refuses it without PUBLIC_URL)', async () => {
    await run(COMPOSE, ['-f', 'compose.yaml', 'config', '-q'], { env: composeEnv });
    const withoutPublicUrl = { ...composeEnv };
    delete withoutPublicUrl.PUBLIC_URL;
    const refused = await run(COMPOSE, ['-f', 'compose.yaml', 'config', '-q'], { env: withoutPublicUrl, allowFailure: true });
    assert(refused.code !== 0 && /PUBLIC_URL/.test(refused.out), `without PUBLIC_URL: ${refused.code} ${refused.out}`);
  });

  const schema = `gh_container_${RUN_ID}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-compose-'));
  const secret = path.join(dir, 'database_url');
  writeFileSync(secret, `${PG_URL}?schema=${schema}\n`);
  chmodSync(secret, 0o444); // the image's uid 1000 reads it through the bind mount
  // Both replicas open the signing keys with this one key-encryption key.
  const kekSecret = path.join(dir, 'key_encryption_key');
  writeFileSync(kekSecret, `${randomBytes(32).toString('hex')}\n`);
  chmodSync(kekSecret, 0o444);
  const unusedSecret = path.join(dir, 'postgres_password');
  writeFileSync(unusedSecret, 'unused\n');
  const [portA, portB] = [await freePort(), await freePort()];
  const project = `ghct${RUN_ID}`;
  const prefix = `gatehouse-container-test:${RUN_ID}:`;
  const env = {
    ...composeEnv,
    PUBLIC_URL: `http://127.0.0.1:${portA}`,
    GATEHOUSE_1_PORT: String(portA),
    GATEHOUSE_2_PORT: String(portB),
    HOST_REDIS_URL: REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    DATABASE_URL_SECRET: secret,
    KEY_ENCRYPTION_KEY_SECRET: kekSecret,
    POSTGRES_PASSWORD_SECRET: unusedSecret,
    COMPOSE_PROJECT_NAME: project,
  };
  // docker-compose 1.x refuses compose.yaml's published ports on the host's network and an
  // override cannot remove them: render the merged configuration and drop them there.
  const merged = path.join(dir, 'compose.merged.yaml');
  const compose = (args, options = {}) => run(COMPOSE, ['-f', merged, ...args], { env, ...options });
  cleanups.push(async () => {
    await compose(['down', '--volumes', '--timeout', '20'], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
    await dropSchemaAndKeys(schema, prefix);
  });

  const up = await check('compose: both replicas start on the host\'s PostgreSQL (DATABASE_URL_FILE) and Redis', async () => {
    const rendered = await run(COMPOSE, ['-f', 'compose.yaml', '-f', 'compose.host.yaml', 'config'], { env });
    const stripped = await run('python3', ['-c', STRIP_HOST_PORTS], { input: rendered.stdout });
    writeFileSync(merged, stripped.stdout);
    const started = Date.now();
    await compose(['up', '-d', '--no-deps', '--no-build', 'gatehouse-1', 'gatehouse-2']);
    const [a, b] = await Promise.all([waitFor200(portA, '/readyz', started), waitFor200(portB, '/readyz', started)]);
    timings.composeReadyMs = Math.max(a, b);
    const ready = await http(portB, 'GET', '/readyz');
    assert(ready.json?.checks?.database?.status === 'ok' && ready.json?.checks?.redis?.status === 'ok', `readyz: ${ready.text}`);
    const { stdout } = await compose(['ps', '-q']);
    const ids = stdout.split('\n').filter((line) => /^[0-9a-f]{12,64}$/.test(line));
    assert(ids.length === 2, `compose ps lists ${ids.length} containers`);
    for (const id of ids) {
      const { out: envs } = await docker(['inspect', '-f', '{{json .Config.Env}}', id]);
      assert(!envs.includes('postgres://'), 'the database URL is in the container\'s environment');
    }
    return `both /readyz 200 ${timings.composeReadyMs} ms after docker-compose up`;
  });
  if (!up) {
    log((await compose(['logs', '--no-color', '--tail', '30'], { allowFailure: true })).out);
    return;
  }

  await check('compose: a logout on one replica is refused on the other', async () => {
    const user = { username: `cmp${RUN_ID.slice(-8)}`, email: `cmp${RUN_ID.slice(-8)}@example.com`, password: PASSWORD };
    const registered = await http(portA, 'POST', '/register', { body: user });
    assert(registered.status === 200, `register on replica 1: ${registered.status} ${registered.text}`);
    const login = await http(portA, 'POST', '/login', { body: { username: user.username, password: PASSWORD } });
    assert(login.status === 200, `login on replica 1: ${login.status} ${login.text}`);
    const { access_token: access, refresh_token: refresh } = login.json;
    const before = await http(portB, 'GET', '/me', { token: access });
    assert(before.status === 200 && before.json.username === user.username, `replica 2 before logout: ${before.status} ${before.text}`);
    const logout = await http(portA, 'POST', '/logout', { token: access, body: { refresh_token: refresh } });
    assert(logout.status === 200, `logout on replica 1: ${logout.status} ${logout.text}`);
    const after = await http(portB, 'GET', '/me', { token: access });
    assert(after.status === 401, `replica 2 after logout answered /me with ${after.status}`);
    const refreshed = await http(portB, 'POST', '/refresh', { body: { refresh_token: refresh } });
    assert(refreshed.status === 401, `replica 2 after logout answered /refresh with ${refreshed.status}`);
  });
}

/** Python (PyYAML comes with docker-compose): drops `ports` where network_mode is host. */
const STRIP_HOST_PORTS = `
import sys, yaml
config = yaml.safe_load(sys.stdin)
for service in config["services"].values():
    if service.get("network_mode") == "host":
        service.pop("ports", None)
yaml.safe_dump(config, sys.stdout, default_flow_style=False)
`;

async function dropSchemaAndKeys(schema, prefix) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_URL });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } catch (error) {
    log(`# could not drop schema ${schema}: ${error.message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch (error) {
    log(`# could not remove Redis keys ${prefix}*: ${error.message}`);
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------

async function main() {
  const engine = await check('a Docker engine answers (installed and started when needed)', async () => {
    await ensureEngine();
    const { out } = await docker(['version', '--format', '{{.Server.Version}}']);
    return `engine ${out}`;
  });
  if (engine) {
    const base = await check('the base image the Dockerfile names exists (scripts/container-base.sh)', async () => {
      const started = Date.now();
      const { out } = await run(path.join(ROOT, 'scripts/container-base.sh'), [], { env: BUILD_ENV });
      timings.baseMs = Date.now() - started;
      return `${out.split('\n').at(-1)}; ${(timings.baseMs / 1000).toFixed(1)} s`;
    });
    const built = base && await check(`docker build -t ${IMAGE}`, async () => {
      const started = Date.now();
      await run(DOCKER, ['build', '--network', 'host', '-t', IMAGE, '.'], { env: BUILD_ENV });
      timings.buildMs = Date.now() - started;
      const { out } = await docker(['image', 'inspect', '-f', '{{.Size}}', IMAGE]);
      timings.imageBytes = Number(out);
      return `${(timings.buildMs / 1000).toFixed(1)} s; image ${(timings.imageBytes / 1e6).toFixed(0)} MB`;
    });
    if (built) {
      await imageChecks();
      await composeChecks();
    }
  }
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => log(`# cleanup: ${error.message}`));
  await stopEngine();
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  const figures = [
    timings.imageBytes && `image ${(timings.imageBytes / 1e6).toFixed(0)} MB`,
    timings.buildMs && `build ${(timings.buildMs / 1000).toFixed(1)} s`,
    timings.firstStartMs && `first start ${timings.firstStartMs} ms`,
    timings.restartMs && `restart ${timings.restartMs} ms`,
  ].filter(Boolean);
  if (figures.length > 0) log(`# ${figures.join(', ')}`);
  log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch(async (error) => {
  log(`not ok - the test run itself failed: ${error.stack ?? error}`);
  await stopEngine();
  log(`${results.filter((r) => r.ok).length} passed, ${results.filter((r) => !r.ok).length + 1} failed`);
  process.exitCode = 1;
});
