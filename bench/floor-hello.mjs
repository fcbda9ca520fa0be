// Floor 1 of `npm run bench`: the bare Fastify GET /hello server (no plugins, no logging).
// Started by bench/run.mjs as a separate process; prints "READY <port>" once listening.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/hello', async () => ({ hello: 'world' }));

const port = Number(process.env.PORT ?? 0);
await app.listen({ host: '127.0.0.1', port });
console.log(`READY ${app.server.address().port}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
