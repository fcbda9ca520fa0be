/** Types of bench/soft-authenticator.mjs (plain JS: the load generator imports it too). */
import type { KeyObject } from 'node:crypto';
export interface SoftCredential {
  /** base64url credential id */
  id: string;
  rpId: string;
  origin: string;
  privateKeyPem: string;
  /** base64url user handle, set at registration */
  userHandle: string;
  counter: number;
}
export function newCredential(rpId: string, origin: string): SoftCredential;
export function registrationResponse(credential: SoftCredential, options: { challenge: string; user: { id: string } }): Record<string, unknown>;
export function assertionResponse(credential: SoftCredential, challenge: string, key?: KeyObject): Record<string, unknown>;
