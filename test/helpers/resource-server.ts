/**
 * A resource server in its own process, as a user would write one with @gatehouse/node:
 * GET /data answers 200 with the caller's sub, or the verifier's refusal. Configured by
 * environment; prints "ready" once the revocation feed has caught up (or at once with
 * RS_WAIT=0). Started by test/cluster/revocation-feed.test.ts, and by `npm run bench` for the
 * revocation delay (bench/lib/revocation.ts).
 */
import http from 'node:http';
import { createRevocationFeed, createVerifier, expressAuth } from '../../packages/node/src/index.js';

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};

const revocations = createRevocationFeed({
  issuer: env('RS_FEED_URL'),
  clientId: env('RS_CLIENT_ID'),
  clientSecret: env('RS_CLIENT_SECRET'),
  staleAfterMs: Number(env('RS_STALE_MS', '5000')),
  whenDown: env('RS_WHEN_DOWN', 'fail-closed') as 'fail-closed' | 'introspect',
  introspectionEndpoint: process.env.RS_INTROSPECTION_URL,
  introspectionCacheMs: 500,
  reconnectDelayMs: 100,
});
const verifier = createVerifier({ issuer: env('RS_ISSUER'), audience: 'gatehouse', revocations });
const guard = expressAuth({ verifier, realm: 'rs' });

const server = http.createServer((req, res) => {
  guard(req, res, (error?: unknown) => {
    if (error) {
      res.statusCode = 500;
      return res.end();
    }
    res.end(JSON.stringify({ sub: (req as { auth?: { sub: string } }).auth?.sub }));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(env('RS_PORT')), '127.0.0.1', () => {
  if (process.env.RS_WAIT === '0') console.log('ready');
  else void revocations.start().then(() => console.log('ready'));
});
process.on('SIGTERM', () => {
  void revocations.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
