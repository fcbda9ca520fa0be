// Floor 2 of `npm run bench`: Fastify + jose, verifying an EdDSA (Ed25519) Bearer token on
// every request, as the ceiling of any route that verifies every token from scratch.
// The public key is imported once at start-up; the tokens are pre-generated here with the
// same header and claims as Gatehouse's access tokens and written to TOKENS_FILE (one a
// line) so that the load generator can send each one exactly once (a "cold" floor); with
// TOKENS=0 none are made.
// Prints "READY <port>" once listening and the tokens are written.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';

const count = Number(process.env.TOKENS ?? 40000);
const tokensFile = process.env.TOKENS_FILE;
const issuer = 'http://127.0.0.1:8000';
const audience = 'gatehouse';

// KEY_FILE (optional) keeps the key pair, so that a second floor process (the bench measures
// the floors before and after the server) verifies the tokens the first one signed.
const keyFile = process.env.KEY_FILE;
let jwk;
let privateKey;
if (keyFile && existsSync(keyFile)) {
  const saved = JSON.parse(readFileSync(keyFile, 'utf8'));
  jwk = saved.publicJwk;
  privateKey = await importJWK(saved.privateJwk, 'EdDSA');
} else {
  const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  jwk = await exportJWK(pair.publicKey);
  privateKey = pair.privateKey;
  if (keyFile) writeFileSync(keyFile, JSON.stringify({ publicJwk: jwk, privateJwk: await exportJWK(privateKey) }));
}
const kid = 'bench-key';
// As a server would: import the published JWK once, at start-up.
const verifyKey = await importJWK({ ...jwk, alg: 'EdDSA', kid }, 'EdDSA');

if (tokensFile && count > 0) {
  const now = Math.floor(Date.now() / 1000);
  const lines = [];
  for (let i = 0; i < count; i++) {
    const token = await new SignJWT({ sid: randomUUID(), username: `user${i % 1000}`, client_id: 'gatehouse' })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(String(1 + (i % 1000)))
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 1800)
      .sign(privateKey);
    lines.push(token);
  }
  writeFileSync(tokensFile, lines.join('\n'));
}

const app = Fastify({ logger: false });
app.get('/me', async (request, reply) => {
  const header = request.headers.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice(7) : '';
  try {
    const { payload } = await jwtVerify(token, verifyKey, {
      algorithms: ['EdDSA'],
      issuer,
      audience,
      typ: 'at+jwt',
      requiredClaims: ['sub', 'jti', 'exp', 'iat'],
    });
    return { id: Number(payload.sub), username: payload.username };
  } catch {
    return reply.code(401).send({ error: 'invalid_token' });
  }
});

const port = Number(process.env.PORT ?? 0);
await app.listen({ host: '127.0.0.1', port });
console.log(`READY ${app.server.address().port}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
