/**
 * The second step of a sign-in at the hosted pages, as a port: the MFA service (TOTP,
 * recovery codes) implements it (MfaService.signInStep, wired in composition.ts); the
 * sign-in flow only asks "does this user need a second factor?" after the right password,
 * and "is this code right?" on the second page.
 */
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Amr, User } from '../../domain/types.js';
import type { ClientContext } from '../auth-service.js';
import type { LoginAttempt, ThrottleSubject } from '../login-throttle.js';

export interface SecondFactorChallenge {
  /** Single use, short-lived; carried by the second page's form. */
  mfaToken: string;
  /** e.g. ["totp", "recovery_code"]. */
  factors: string[];
}

export type SecondFactorResult =
  /** `attempt`: the caller ends it once the sign-in stands; `deviceId`: the password step's device. */
  | { ok: true; user: User; amr: Amr[]; attempt: LoginAttempt | undefined; deviceId: string | undefined }
  /** `retry`: the code was wrong, the token lives on; otherwise start again from the password. */
  | { ok: false; retry: boolean };

export interface SecondFactorStep {
  /** After the right password: a challenge when the user has an active factor, else undefined. */
  challenge(user: User, login: { throttle: ThrottleSubject; clientId: string }, client: ClientContext): Promise<SecondFactorChallenge | undefined>;
  /** Checks a code (TOTP or recovery code) against a challenge of this client; spends it when right. */
  verify(mfaToken: string, code: string, clientId: string, client: ClientContext): Promise<SecondFactorResult>;
}

/**
 * Passkeys at the hosted pages, as a port: the passkey service implements it
 * (PasskeyService.loginOptions / verifySignIn, wired in composition.ts). Without an
 * mfa_token a user-verified passkey is the whole sign-in; with one, the second step.
 */
export interface PasskeyStep {
  /** WebAuthn request options (a challenge kept server-side); invalid_mfa_token for a dead token. */
  options(mfaToken: string | undefined, clientId: string): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /** Verifies an assertion; spends the mfa_token when right. */
  verify(response: AuthenticationResponseJSON, mfaToken: string | undefined, clientId: string, client: ClientContext): Promise<SecondFactorResult>;
}
