// A minimal software passkey authenticator for the bench (issue 16's passkey login): an ES256
// (P-256) key made with node:crypto, a discoverable credential, and the two ceremonies as a
// browser hands them to the server (@simplewebauthn/server verifies them in
// src/services/passkeys.ts):
// - registration: clientDataJSON {type webauthn.create, challenge, origin} and an attestation
//   object (CBOR) of format "none" whose authenticatorData carries SHA-256(rpId), the flags
//   UP|UV|AT, the counter, and the attested credential (AAGUID 0, id, COSE public key);
// - assertion: authenticatorData SHA-256(rpId) | UP|UV | counter, clientDataJSON
//   {type webauthn.get, challenge, origin}, and the DER ECDSA signature over
//   authenticatorData || SHA-256(clientDataJSON); userHandle is the id the server gave.
// The counter moves forward on every assertion, as a hardware authenticator's does.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const sha256 = (data) => createHash('sha256').update(data).digest();

// ---- just enough CBOR (RFC 8949) for an attestation object and a COSE key
function head(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}
function cbor(value) {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const s = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, s.length), s]);
  }
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value]);
  if (value instanceof Map) return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
  throw new Error(`cbor: cannot encode ${typeof value}`);
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

function authenticatorData(rpId, flags, counter, attested) {
  const counterBytes = Buffer.alloc(4);
  counterBytes.writeUInt32BE(counter >>> 0);
  return Buffer.concat([sha256(rpId), Buffer.from([flags]), counterBytes, ...(attested ? [attested] : [])]);
}

/** A new credential for `rpId`: what the bench keeps (JSON-serializable) to sign with later. */
export function newCredential(rpId, origin) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { id: b64u(randomBytes(32)), rpId, origin, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }), userHandle: '', counter: 0 };
}

/** The RegistrationResponseJSON for the server's creation options (`options.challenge`, `options.user.id`). */
export function registrationResponse(credential, options) {
  const key = createPrivateKey(credential.privateKeyPem);
  const jwk = key.export({ format: 'jwk' });
  const cose = new Map([
    [1, 2], // kty: EC2
    [3, -7], // alg: ES256
    [-1, 1], // crv: P-256
    [-2, Buffer.from(jwk.x, 'base64url')],
    [-3, Buffer.from(jwk.y, 'base64url')],
  ]);
  const id = Buffer.from(credential.id, 'base64url');
  const idLength = Buffer.alloc(2);
  idLength.writeUInt16BE(id.length);
  const attested = Buffer.concat([Buffer.alloc(16), idLength, id, cbor(cose)]);
  const authData = authenticatorData(credential.rpId, FLAG_UP | FLAG_UV | FLAG_AT, credential.counter, attested);
  const attestationObject = cbor(new Map([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
  const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: credential.origin, crossOrigin: false }));
  credential.userHandle = options.user.id;
  return {
    id: credential.id,
    rawId: credential.id,
    type: 'public-key',
    response: { clientDataJSON: b64u(clientDataJSON), attestationObject: b64u(attestationObject), transports: ['internal'] },
    clientExtensionResults: {},
    authenticatorAttachment: 'platform',
  };
}

/** The AuthenticationResponseJSON for `challenge` (user present and verified); advances the counter. */
export function assertionResponse(credential, challenge, key = createPrivateKey(credential.privateKeyPem)) {
  credential.counter += 1;
  const authData = authenticatorData(credential.rpId, FLAG_UP | FLAG_UV, credential.counter);
  const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: credential.origin, crossOrigin: false }));
  const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), key);
  return {
    id: credential.id,
    rawId: credential.id,
    type: 'public-key',
    response: { clientDataJSON: b64u(clientDataJSON), authenticatorData: b64u(authData), signature: b64u(signature), userHandle: credential.userHandle },
    clientExtensionResults: {},
    authenticatorAttachment: 'platform',
  };
}
