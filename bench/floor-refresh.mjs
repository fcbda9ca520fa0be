// Floor of `POST /refresh` for `npm run bench` (issue 19 target 3): bare Fastify, and per
// request one Ed25519 signature (jose SignJWT, claims like an access token's) plus one
// durable SQLite write transaction touching PAGES pages, measured in the same run. PAGES is
// what one of the server's rotations writes (WAL frames per refresh, measured by the bench
// on the server just before). The database is set up as a straightforward durable SQLite
// application would be, like Gatehouse's: WAL, synchronous=NORMAL, and after each commit an
// fsync of the -wal file on the thread pool, one at a time, that covers every commit before
// it (group commit); SQLite's default automatic checkpoint (1 000 pages).
// Each updated row fills its own page (3 000 bytes, 4 KiB pages) among ROWS rows, chosen at
// random, so each transaction touches PAGES distinct leaf pages.
// Prints "READY <port>" once listening.
import { fsync, openSync, realpathSync } from 'node:fs';
import { randomBytes, randomInt, randomUUID, createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { SignJWT, generateKeyPair } from 'jose';

const pages = Math.max(1, Number(process.env.PAGES ?? 8));
const rows = Number(process.env.ROWS ?? 5000);
const file = process.env.DB_FILE;
if (!file) throw new Error('DB_FILE is required');

const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, pad BLOB NOT NULL)');
if (db.prepare('SELECT count(*) AS n FROM t').get().n < rows) {
  const insert = db.prepare('INSERT INTO t (pad) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(randomBytes(3000));
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
}
const update = db.prepare('UPDATE t SET pad = ? WHERE id = ?');
const write = db.transaction((ids) => {
  for (const id of ids) update.run(randomBytes(3000), id);
});
const walFd = openSync(`${realpathSync(file)}-wal`, 'r+');

// Group commit: one fsync at a time; a commit that arrives while one runs waits for the next.
let running;
let queued;
function durable() {
  if (!running) {
    running = new Promise((resolve, reject) => fsync(walFd, (e) => (e ? reject(e) : resolve()))).finally(() => (running = undefined));
    return running;
  }
  queued ??= running.then(() => {
    queued = undefined;
    return durable();
  });
  return queued;
}

const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
const app = Fastify({ logger: false });
app.post('/refresh', async () => {
  const ids = new Set();
  while (ids.size < pages) ids.add(1 + randomInt(rows));
  write([...ids]);
  await durable();
  const now = Math.floor(Date.now() / 1000);
  const accessToken = await new SignJWT({ sid: randomUUID(), username: 'user', client_id: 'gatehouse' })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'bench-key', typ: 'at+jwt' })
    .setIssuer('http://127.0.0.1:8000')
    .setAudience('gatehouse')
    .setSubject('1')
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 1800)
    .sign(privateKey);
  const refreshToken = `ghr_${randomBytes(32).toString('base64url')}`;
  createHash('sha256').update(refreshToken).digest();
  return { access_token: accessToken, refresh_token: refreshToken, token_type: 'Bearer', expires_in: 1800 };
});

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
console.log(`READY ${app.server.address().port}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
