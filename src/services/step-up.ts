/**
 * Step-up (RFC 9470): actions that could lock the owner out or disarm the second factor
 * need a session that passed MFA, once the user has a factor. The refusal is the
 * standard challenge, which SDKs and resource servers recognise.
 */
import type { Principal } from '../domain/types.js';
import { insufficientUserAuthentication } from '../errors/index.js';
import type { MfaStore } from './ports.js';

export function passedMfa(principal: Principal): boolean {
  return principal.claims.amr?.includes('mfa') ?? false;
}

/** Throws the RFC 9470 challenge when the user has an active factor and this session did not use one. */
export async function assertStepUp(mfa: MfaStore, principal: Principal): Promise<void> {
  if (passedMfa(principal)) return;
  if (await mfa.hasActive(principal.userId)) throw insufficientUserAuthentication();
}
