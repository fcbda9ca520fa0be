/**
 * The revocation feed subscriber's protocol handling against a small SSE server written
 * here to the contract (so each case can be staged: split chunks, CRLF, reconnects,
 * outages). The real feed, end to end, is test/cluster/revocation-feed.test.ts.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { createRevocationFeed, type RevocationFeedOptions } from '../../packages/node/src/index.js';

interface Stage {
  url: string;
  /** Last-Event-ID and Authorization of each connection. */
  connections: Array<{ lastEventId: string | undefined; authorization: string | undefined }>;
  open: Set<http.ServerResponse>;
  /** Sends raw text to every open stream. */
  push(text: string): void;
  /** Drops every stream; new connections answer `status` until `heal()`. */
  fail(status: number): void;
  heal(): void;
  introspections: string[];
}

async function stage(t: TestContext, onConnect: (res: http.ServerResponse, lastEventId: string | undefined) => void): Promise<Stage> {
  let failing: number | undefined;
  const s = { connections: [], open: new Set(), introspections: [] } as unknown as Stage;
  const server = http.createServer((req, res) => {
    if (req.url === '/oauth/introspect') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const token = new URLSearchParams(body).get('token')!;
        s.introspections.push(token);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ active: token === 'live-token' }));
      });
      return;
    }
    const lastEventId = req.headers['last-event-id'] as string | undefined;
    s.connections.push({ lastEventId, authorization: req.headers.authorization });
    if (failing !== undefined) {
      res.statusCode = failing;
      return res.end();
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    s.open.add(res);
    res.on('close', () => s.open.delete(res));
    onConnect(res, lastEventId);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const res of s.open) res.destroy();
    server.closeAllConnections();
    server.close();
  });
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  s.push = (text) => {
    for (const res of s.open) res.write(text);
  };
  s.fail = (status) => {
    failing = status;
    for (const res of s.open) res.destroy();
  };
  s.heal = () => {
    failing = undefined;
  };
  return s;
}

function feedFor(t: TestContext, s: Stage, options: Partial<RevocationFeedOptions> = {}) {
  const feed = createRevocationFeed({ issuer: s.url, clientId: 'rs id', clientSecret: 's:cret', reconnectDelayMs: 20, ...options });
  t.after(() => feed.close());
  return feed;
}

const until = async (probe: () => boolean | Promise<boolean>, what: string) => {
  for (let i = 0; i < 200; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out: ${what}`);
};

const exp = () => Math.floor(Date.now() / 1000) + 300;

test('reads the backlog and live events (split chunks, CRLF, multi-line data); revoked sid and jti are refused', async (t) => {
  const s = await stage(t, (res) => {
    res.write(`id: 1\nevent: revoked\ndata: {"sid":"s-1","exp":${exp()}}\n\n`);
    res.write(`id: 2\r\nevent: revoked\r\ndata: {"jti":\r\ndata: "j-1","exp":${exp()}}\r\n\r\n`);
    res.write(': ping\n\n');
  });
  const feed = feedFor(t, s);
  await feed.start();
  assert.equal(feed.connected, true);
  assert.equal(await feed.check({ sid: 's-1', jti: 'x' }, 't'), 'revoked');
  assert.equal(await feed.check({ sid: 's-2', jti: 'j-1' }, 't'), 'revoked');
  assert.equal(await feed.check({ sid: 's-2', jti: 'j-2' }, 't'), 'ok');
  // A live event split across writes.
  s.push('id: 3\nevent: rev');
  await new Promise((r) => setTimeout(r, 30));
  s.push(`oked\ndata: {"sid":"s-2","exp":${exp()}}\n\n`);
  await until(async () => (await feed.check({ sid: 's-2' }, 't')) === 'revoked', 'live event');
  // Other event types and comments change nothing.
  s.push(`event: other\ndata: {"sid":"s-3","exp":${exp()}}\n\n: hello\n\n`);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await feed.check({ sid: 's-3' }, 't'), 'ok');
  assert.equal(feed.size, 3);
  assert.equal(s.connections[0]!.authorization, `Basic ${Buffer.from('rs%20id:s%3Acret').toString('base64')}`);
});

test('reconnects after a drop with Last-Event-ID, and receives what it missed', async (t) => {
  const s = await stage(t, (res, lastEventId) => {
    if (lastEventId === undefined) res.write(`id: 7\nevent: revoked\ndata: {"sid":"a","exp":${exp()}}\n\n: ping\n\n`);
    else res.write(`id: 8\nevent: revoked\ndata: {"sid":"b","exp":${exp()}}\n\n: ping\n\n`);
  });
  const feed = feedFor(t, s);
  await feed.start();
  s.fail(503);
  await until(() => !feed.connected, 'drop noticed');
  s.heal();
  await until(() => feed.connected, 'reconnected');
  assert.equal(s.connections.at(-1)!.lastEventId, '7');
  assert.equal(await feed.check({ sid: 'b' }, 't'), 'revoked');
  assert.equal(await feed.check({ sid: 'a' }, 't'), 'revoked');
});

test('never silently open: before the first catch-up, and past the bound, it answers unavailable (fail-closed)', async (t) => {
  const s = await stage(t, (res) => res.write(': ping\n\n'));
  s.fail(500);
  const feed = feedFor(t, s, { staleAfterMs: 300 });
  void feed.start();
  await until(() => s.connections.length >= 2, 'retries');
  assert.equal(await feed.check({ sid: 'x' }, 't'), 'unavailable');
  s.heal();
  await feed.ready();
  assert.equal(await feed.check({ sid: 'x' }, 't'), 'ok');
  s.fail(500);
  await until(() => !feed.connected, 'drop noticed');
  // Within the bound: still the feed's word.
  assert.equal(await feed.check({ sid: 'x' }, 't'), 'ok');
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(await feed.check({ sid: 'x' }, 't'), 'unavailable');
  s.heal();
  await feed.ready();
  assert.equal(await feed.check({ sid: 'x' }, 't'), 'ok');
});

test('introspection fallback past the bound: active passes, inactive is revoked, answers cached briefly', async (t) => {
  const s = await stage(t, (res) => res.write(': ping\n\n'));
  const feed = feedFor(t, s, { staleAfterMs: 100, whenDown: 'introspect', introspectionCacheMs: 60_000 });
  await feed.start();
  s.fail(500);
  await until(() => !feed.connected, 'drop noticed');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(await feed.check({ sid: 'x' }, 'live-token'), 'ok');
  assert.equal(await feed.check({ sid: 'y' }, 'dead-token'), 'revoked');
  assert.equal(await feed.check({ sid: 'x' }, 'live-token'), 'ok');
  assert.deepEqual(s.introspections, ['live-token', 'dead-token']);
  // Known-revoked entries are refused without asking anyone.
  assert.equal(s.introspections.length, 2);
});

test('an idle connection (no byte for idleTimeoutMs) is dropped and reopened', async (t) => {
  const s = await stage(t, (res) => res.write(': ping\n\n'));
  const feed = feedFor(t, s, { idleTimeoutMs: 200 });
  await feed.start();
  await until(() => s.connections.length >= 2, 'reconnect after silence');
});
