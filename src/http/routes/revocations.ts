/**
 * GET /revocations/stream (contract: "Revocation feed"): Server-Sent Events for confidential
 * clients, HTTP Basic as at /oauth/introspect. The backlog first (everything still relevant,
 * or everything after Last-Event-ID), then a `: ping` comment (subscribers take it to mean
 * "caught up"), then live revocations from any instance, and a ping every 10 s.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ServerResponse } from 'node:http';
import { Type } from 'typebox';
import { AppError, ERRORS, problemType } from '../../errors/index.js';
import type { ClientRegistry } from '../../services/client-registry.js';
import type { FeedEntry, RevocationFeed } from '../../services/revocation-feed.js';
import { problems } from '../schemas/common.js';
import { clientCredentials } from './oauth.js';

export interface RevocationRoutesOptions {
  feed: RevocationFeed;
  clients: ClientRegistry;
}

/** The contract asks for a comment at least every 15 s. */
const PING_MS = 10_000;

function format(entries: FeedEntry[]): string {
  return entries.map((e) => `id: ${e.id}\nevent: revoked\ndata: ${JSON.stringify(e.data)}\n\n`).join('');
}

export default async function revocationRoutes(instance: FastifyInstance, opts: RevocationRoutesOptions) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const streams = new Set<ServerResponse>();
  // Open streams would hold a graceful close for ever: end them first.
  app.addHook('preClose', (done) => {
    for (const stream of streams) stream.end();
    done();
  });

  app.get(
    '/revocations/stream',
    {
      schema: {
        tags: ['standards'],
        summary: 'Revocation feed (Server-Sent Events) for resource servers',
        description:
          'For confidential clients (HTTP Basic, as at /oauth/introspect). Each revocation is one `revoked` event with an ' +
          '`id:` cursor and `data:` `{"sid","exp"}` (a session ended) or `{"jti","exp"}` (one access token revoked); `exp` ' +
          'is when the last token it covers expires. On connect: every revocation whose `exp` is ahead (or, with ' +
          '`Last-Event-ID`, every one after that cursor), then a `: ping` comment, then live events from every instance. ' +
          'A `: ping` comment every 10 s keeps proxies from closing the stream.',
        security: [{ clientBasic: [] }],
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 64, description: 'Resume after this cursor' })) }),
        response: {
          200: {
            description: '`text/event-stream`: `event: revoked`, `id: <cursor>`, `data: {"sid"|"jti", "exp"}`',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...problems(401, 503),
        },
      },
    },
    async (request, reply) => {
      try {
        await opts.clients.authenticateConfidential(clientCredentials(request, {}));
      } catch (error) {
        if (!(error instanceof AppError) || error.status !== 401) throw error;
        // The problem body is documented through problems(); the typed reply only knows 200.
        return (reply as unknown as FastifyReply)
          .code(401)
          .header('www-authenticate', 'Basic realm="gatehouse"')
          .type('application/problem+json')
          .send({ type: problemType(error.code), title: ERRORS[error.code].title, status: 401, detail: error.detail, code: error.code });
      }
      const backlog = await opts.feed.backlog(request.headers['last-event-id']);

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      });
      res.write(`${format(backlog.entries)}: ping\n\n`);
      streams.add(res);
      const unsubscribe = opts.feed.subscribe(backlog.cursor, (entries) => res.write(format(entries)));
      const ping = setInterval(() => res.write(': ping\n\n'), PING_MS);
      res.on('close', () => {
        clearInterval(ping);
        unsubscribe();
        streams.delete(res);
      });
    },
  );
}
