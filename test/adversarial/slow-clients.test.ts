/** Slowloris and idle hoarders: they are cut off, and everyone else is still served. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { buildTestApp } from '../helpers/app.js';

async function listening(t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}) {
  const app = await buildTestApp(t, { HTTP_HEADERS_TIMEOUT_SECONDS: '1', HTTP_REQUEST_TIMEOUT_SECONDS: '2', ...env });
  const address = await app.app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: Number(new URL(address).port), address };
}

/** Resolves with what the server sent and how long until it closed the socket. */
function hold(port: number, write: (socket: net.Socket) => void, limitMs: number): Promise<{ closedAfterMs: number; received: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let received = '';
    const socket = net.connect(port, '127.0.0.1', () => write(socket));
    socket.on('data', (d) => (received += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - started, received });
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${limitMs} ms`));
    }, limitMs);
  });
}

test('headers that never finish (slowloris) are cut off after the headers timeout', { timeout: 30_000 }, async (t) => {
  const { port } = await listening(t);
  const result = await hold(
    port,
    (socket) => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      const drip = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 300);
      socket.on('close', () => clearInterval(drip));
    },
    10_000,
  );
  assert.ok(result.closedAfterMs < 5_000, `closed after ${result.closedAfterMs} ms`);
  assert.match(result.received, /^HTTP\/1\.1 408/);
});

test('a body that trickles in is cut off after the request timeout', { timeout: 30_000 }, async (t) => {
  const { port } = await listening(t);
  const result = await hold(
    port,
    (socket) => {
      socket.write('POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"username":"');
      const drip = setInterval(() => socket.writable && socket.write('a'), 200);
      socket.on('close', () => clearInterval(drip));
    },
    15_000,
  );
  assert.ok(result.closedAfterMs < 8_000, `closed after ${result.closedAfterMs} ms`);
  assert.doesNotMatch(result.received, /^HTTP\/1\.1 2/);
});

test('oversized headers are refused', { timeout: 30_000 }, async (t) => {
  const { port } = await listening(t);
  const result = await hold(port, (socket) => socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 10_000);
  assert.match(result.received, /^HTTP\/1\.1 431/);
});

test('1 000 idle connections do not stop service to others', { timeout: 60_000 }, async (t) => {
  const { address, port } = await listening(t);
  const sockets: net.Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  await Promise.all(
    Array.from({ length: 1000 }, () =>
      new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => resolve());
        s.on('error', () => resolve());
        sockets.push(s);
      }),
    ),
  );
  const started = Date.now();
  const res = await fetch(`${address}/healthz`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(res.status, 200);
  assert.ok(Date.now() - started < 2_000, `answered in ${Date.now() - started} ms`);
  const login = await fetch(`${address}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"x","password":"y"}' });
  assert.equal(login.status, 401);
});
