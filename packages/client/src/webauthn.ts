/**
 * The WebAuthn ceremonies between Gatehouse's JSON and navigator.credentials: base64url to
 * ArrayBuffer for the options (challenge, user id, credential ids), and the credential back
 * to RegistrationResponseJSON / AuthenticationResponseJSON. By hand, no dependency.
 */
import type { PasskeyLoginOptions } from './types.js';

/** The options JSON as Gatehouse sends it (PublicKeyCredential{Creation,Request}OptionsJSON). */
export type OptionsJson = {
  challenge: string;
  user?: { id: string };
  allowCredentials?: Array<{ id: string }>;
  excludeCredentials?: Array<{ id: string }>;
};

// The browser's types, as far as they are used (the package builds without the DOM lib too).
interface Credential {
  id: string;
  rawId: ArrayBuffer;
  type: string;
  authenticatorAttachment?: string | null;
  getClientExtensionResults(): object;
  response: {
    clientDataJSON: ArrayBuffer;
    attestationObject: ArrayBuffer;
    getTransports?(): string[];
    authenticatorData: ArrayBuffer;
    signature: ArrayBuffer;
    userHandle?: ArrayBuffer | null;
  };
}
interface Credentials {
  create(options: object): Promise<Credential>;
  get(options: object): Promise<Credential>;
}

const toBuffer = (s: string): ArrayBuffer =>
  // atob decodes unpadded base64 (the forgiving-base64 algorithm).
  Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer;

function fromBuffer(buffer: ArrayBuffer): string {
  let binary = '';
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const ids = (list: Array<{ id: string }> | undefined) => list?.map((c) => ({ ...c, id: toBuffer(c.id) }));

function credentials(): Credentials {
  const container = (globalThis as unknown as { navigator?: { credentials?: Credentials } }).navigator?.credentials;
  if (!container) throw new Error('Passkeys need a browser with WebAuthn (navigator.credentials)');
  return container;
}

/** The JSON form of a credential (what @simplewebauthn/server verifies). */
const toJson = (credential: Credential, response: object) => ({
  id: credential.id,
  rawId: fromBuffer(credential.rawId),
  type: credential.type,
  response: { clientDataJSON: fromBuffer(credential.response.clientDataJSON), ...response },
  clientExtensionResults: credential.getClientExtensionResults(),
  ...(credential.authenticatorAttachment ? { authenticatorAttachment: credential.authenticatorAttachment } : {}),
});

/**
 * navigator.credentials.create with the creation options `ask` fetches (only once WebAuthn
 * is known to be there); resolves to RegistrationResponseJSON.
 */
export async function createPasskey(ask: () => Promise<OptionsJson>): Promise<object> {
  const container = credentials();
  const options = await ask();
  const publicKey = {
    ...options,
    challenge: toBuffer(options.challenge),
    user: { ...options.user, id: toBuffer(options.user!.id) },
    excludeCredentials: ids(options.excludeCredentials),
  };
  const credential = await container.create({ publicKey });
  const { response } = credential;
  return toJson(credential, {
    attestationObject: fromBuffer(response.attestationObject),
    transports: response.getTransports?.() ?? [],
  });
}

/** navigator.credentials.get with the request options `ask` fetches; resolves to AuthenticationResponseJSON. */
export async function getPasskey(ask: () => Promise<OptionsJson>, { mediation, signal }: PasskeyLoginOptions): Promise<object> {
  const container = credentials();
  const options = await ask();
  const publicKey = {
    ...options,
    challenge: toBuffer(options.challenge),
    allowCredentials: ids(options.allowCredentials),
  };
  const credential = await container.get({ publicKey, mediation, signal });
  const { response } = credential;
  return toJson(credential, {
    authenticatorData: fromBuffer(response.authenticatorData),
    signature: fromBuffer(response.signature),
    ...(response.userHandle ? { userHandle: fromBuffer(response.userHandle) } : {}),
  });
}
