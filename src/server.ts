/** Entry for `gatehouse serve`: config → app → listen, and a graceful close on SIGTERM. */
import { buildGatehouse } from './app.js';
import type { Config } from './config/index.js';
import { lowerHashThreads } from './crypto/hash-pool.js';
import { collectWhenIdle } from './runtime/idle-collection.js';
import { lowerLibuvPool } from './runtime/thread-pool.js';

export async function serve(config: Readonly<Config>): Promise<void> {
  // Before the first hash: logins must not delay the event loop (runtime/thread-pool.ts).
  lowerHashThreads();
  const lowered = await lowerLibuvPool(config.threadPoolSize);
  const { app } = await buildGatehouse(config);
  app.log.info({ threads: lowered.length }, 'libuv thread pool below the event loop\'s priority');
  // The heap a load grew, handed back once the process is quiet (runtime/idle-collection.ts).
  const idle = config.idleHeapCollection ? collectWhenIdle({
    onCollect: ({ heapBeforeBytes, heapAfterBytes, pauseMs }) =>
      app.log.debug({ heapBeforeMb: Math.round(heapBeforeBytes / 2 ** 20), heapAfterMb: Math.round(heapAfterBytes / 2 ** 20), pauseMs: Math.round(pauseMs) }, 'idle: V8 heap collected'),
  }) : undefined;
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    idle?.stop();
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    // Stop accepting, let in-flight requests finish, close the stores; force after 10 s.
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    // close() ends the keep-alive connections that are idle at that moment. One still
    // answering a request stays open after its answer (until the client or the idle timeout
    // ends it), which would hold the close, and the database, open until the forced exit:
    // end each such connection as soon as its answer is sent.
    const closeIdle = setInterval(() => app.server.closeIdleConnections(), 50);
    closeIdle.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ host: config.host, port: config.port });
  app.log.info(`Gatehouse ${config.nodeEnv} on ${config.publicUrl} (docs: ${config.publicUrl}/docs, database: ${config.database.kind})`);
}
