/**
 * The second step of a sign-in at the hosted pages, as a port: the MFA service (TOTP,
 * recovery codes) implements it; the sign-in flow only asks "does this user need a second
 * factor?" after the right password, and "is this code right?" on the second page.
 * Until a second-factor service is wired (app.ts), sign-in is password only.
 */
import type { User } from '../../domain/types.js';
import type { ClientContext } from '../auth-service.js';

export interface SecondFactorChallenge {
  /** Single use, short-lived; carried by the second page's form. */
  mfaToken: string;
  /** e.g. ["totp", "recovery_code"]. */
  factors: string[];
}

export type SecondFactorResult =
  | { ok: true; user: User; amr: string[] }
  /** `retry`: the code was wrong, the token lives on; otherwise start again from the password. */
  | { ok: false; retry: boolean };

export interface SecondFactorStep {
  /** After the right password: a challenge when the user has an active factor, else undefined. */
  challenge(user: User, login: { throttleKey: string; clientId: string }, client: ClientContext): Promise<SecondFactorChallenge | undefined>;
  /** Checks a code (TOTP or recovery code) against a challenge; spends it when right. */
  verify(mfaToken: string, code: string, client: ClientContext): Promise<SecondFactorResult>;
}
