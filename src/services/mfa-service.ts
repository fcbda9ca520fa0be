/**
 * Second factors: TOTP enrolment and activation, recovery codes, the list and removal of
 * factors, and the second step of a login (`mfa_token` + code or recovery code).
 *
 * A login with a factor is two requests. The password step leaves a single-use,
 * short-lived `mfa_token` (stored by hash) that remembers the account throttle key and
 * the OAuth client; wrong codes count against both the token (at most maxCodeAttempts)
 * and the account throttle, exactly like wrong passwords.
 */
import { hashToken, newId, newMfaToken, newRecoveryCode, normaliseRecoveryCode } from '../crypto/random.js';
import { open, seal } from '../crypto/secret-box.js';
import { base32, matchingStep, newTotpSecret, otpauthUri } from '../crypto/totp.js';
import type { Amr, MfaFactor, OAuthClient, Principal, User } from '../domain/types.js';
import { loginKey } from '../domain/identity.js';
import { AppError } from '../errors/index.js';
import type { AccountService } from './account-service.js';
import type { AuthService, ClientContext, LoginResult, MfaGate } from './auth-service.js';
import { DEFAULT_CLIENT } from './client-registry.js';
import type { LoginAttempt, LoginThrottle, ThrottleSubject } from './login-throttle.js';
import type { AuthChallenge, AuthObserver, Clock, NewFactor, OtpReplayGuard, Stores, TransactionStores } from './ports.js';
import type { SecondFactorResult } from './oidc/second-factor.js';
import { assertStepUp } from './step-up.js';

export const RECOVERY_CODE_COUNT = 10;

export interface MfaOptions {
  issuerName: string;
  /** Seals TOTP seeds: the signing keys' key-encryption key. */
  keyEncryptionKey: Buffer;
  mfaTokenTtlSeconds: number;
  maxCodeAttempts: number;
}

export const invalidMfaCode = (): AppError => new AppError('invalid_mfa_code', 'The code is wrong, expired or already used');
export const invalidMfaToken = (): AppError =>
  new AppError('invalid_mfa_token', 'The mfa_token is invalid, expired, used, or has had too many wrong codes; log in again');

/** Recovery codes for the user, and the digests that are all the database keeps. */
export function newRecoveryCodes(): { codes: string[]; hashes: string[] } {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  return { codes, hashes: codes.map(hashToken) };
}

/** Whose budgets the password step drew from (stored with the mfa challenge; none for passkey ceremonies). */
function throttleSubject(challenge: AuthChallenge): ThrottleSubject | undefined {
  return challenge.throttleKey === null ? undefined : (JSON.parse(challenge.throttleKey) as ThrottleSubject);
}

/** The device the password step of this challenge came from (its own failure budget), if it said. */
export const mfaDeviceId = (challenge: AuthChallenge): string | undefined => throttleSubject(challenge)?.deviceId;

/**
 * The password step's hand-over (AuthService asks it after the right password): for a
 * user with an active factor, a fresh mfa_token and the names of the factors.
 */
export class MfaChallengeIssuer implements MfaGate {
  constructor(
    private readonly stores: Stores,
    private readonly observer: AuthObserver,
    private readonly clock: Clock,
    private readonly mfaTokenTtlSeconds: number,
  ) {}

  hasFactor(userId: number): Promise<boolean> {
    return this.stores.mfa.hasActive(userId);
  }

  async challenge(user: User, login: { throttle: ThrottleSubject; clientId: string }, client: ClientContext) {
    const factors = await this.stores.mfa.listActive(user.id);
    if (factors.length === 0) return undefined;
    const now = this.clock.now();
    const mfaToken = newMfaToken();
    await this.stores.mfa.createChallenge({
      hash: hashToken(mfaToken),
      kind: 'mfa',
      userId: user.id,
      throttleKey: JSON.stringify(login.throttle),
      clientId: login.clientId,
      attempts: 0,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.mfaTokenTtlSeconds * 1000),
    });
    const names: string[] = [...new Set(factors.map((f) => f.type))];
    if ((await this.stores.mfa.countRecoveryCodes(user.id)) > 0) names.push('recovery_code');
    await this.observer.onEvent({ type: 'mfa_challenged', userId: user.id, client, detail: { factors: names.join(' ') } });
    return { mfaToken, factors: names };
  }
}

/** What MfaService is built from (composition.ts). */
export interface MfaServiceDeps {
  stores: Stores;
  account: AccountService;
  auth: AuthService;
  throttle: LoginThrottle;
  replay: OtpReplayGuard;
  observer: AuthObserver;
  clock: Clock;
  options: MfaOptions;
}

/**
 * A second-step code that checked out. It is spent (`spend`) in the transaction that
 * completes the step, with the mfa_token and the session: one commit, and a step that
 * fails leaves the code unused. `spend` throws invalid_mfa_code when the code was used in
 * the meantime (a TOTP step recorded by a concurrent request, a recovery code spent or a
 * wrong one); the caller then counts it as a wrong code, with reason `refusal`.
 */
interface CheckedCode {
  attempt: LoginAttempt | undefined;
  amr: Amr[];
  spend: (tx: TransactionStores) => Promise<void>;
  refusal: string;
}

export class MfaService {
  private readonly stores: Stores;
  private readonly account: AccountService;
  private readonly auth: AuthService;
  private readonly throttle: LoginThrottle;
  private readonly replay: OtpReplayGuard;
  private readonly observer: AuthObserver;
  private readonly clock: Clock;
  private readonly options: MfaOptions;

  constructor(deps: MfaServiceDeps) {
    this.stores = deps.stores;
    this.account = deps.account;
    this.auth = deps.auth;
    this.throttle = deps.throttle;
    this.replay = deps.replay;
    this.observer = deps.observer;
    this.clock = deps.clock;
    this.options = deps.options;
  }

  /** The live mfa challenge behind a token, for this OAuth client; else invalid_mfa_token. */
  async liveChallenge(mfaToken: string, clientId: string = DEFAULT_CLIENT.id): Promise<AuthChallenge & { userId: number }> {
    const found = await this.stores.mfa.findChallenge(hashToken(mfaToken), 'mfa', this.clock.now());
    if (!found || found.userId === null || found.clientId !== clientId) throw invalidMfaToken();
    return found as AuthChallenge & { userId: number };
  }

  /**
   * Takes one attempt for a second step from the budgets the password step used (this
   * device's alone when the login presented its device token), before the factor is
   * checked; throws account_locked when they are spent, whichever factor the guess is for.
   */
  async beginStep(challenge: AuthChallenge, client: ClientContext): Promise<LoginAttempt | undefined> {
    const subject = throttleSubject(challenge);
    return subject && this.throttle.begin({ account: subject.account, deviceId: subject.deviceId, ipKey: client.ipKey });
  }

  /**
   * A wrong second factor: one attempt off the token (dead at the limit), and the step's
   * throttle attempt stays counted, as a wrong password's would.
   */
  async countFailure(challenge: AuthChallenge, attempt: LoginAttempt | undefined, client: ClientContext, reason: string): Promise<void> {
    const now = this.clock.now();
    const attempts = await this.stores.mfa.countFailure(challenge.hash, this.options.maxCodeAttempts, now);
    const who = { userId: challenge.userId ?? undefined, client };
    await this.observer.onEvent({ type: 'mfa_failed', ...who, detail: { reason, attempts: attempts ?? this.options.maxCodeAttempts } });
    if (attempt?.locksOnFailure) await this.observer.onEvent({ type: 'lockout', ...who });
  }

  /**
   * Spends the token (single use) and finishes the login with these methods; `spend`, when
   * given, spends the code in the same transaction (see CheckedCode).
   */
  async finish(
    challenge: AuthChallenge & { userId: number },
    attempt: LoginAttempt | undefined,
    amr: Amr[],
    client: ClientContext,
    oauthClient: OAuthClient = DEFAULT_CLIENT,
    spend?: (tx: TransactionStores) => Promise<void>,
  ): Promise<LoginResult> {
    const user = await this.stores.users.findById(challenge.userId);
    if (!user) throw invalidMfaToken();
    const deviceId = throttleSubject(challenge)?.deviceId;
    // The token is spent in the session's own transaction: of two concurrent second steps
    // one gets a session, and a failed session leaves the token (and the code) unspent.
    return this.auth.completeLogin(user, amr, { attempt, deviceId, client, oauthClient }, async (tx) => {
      if (!(await tx.mfa.consumeChallenge(challenge.hash, 'mfa', this.clock.now()))) throw invalidMfaToken();
      await spend?.(tx);
    });
  }

  // ---- the second step with a code ------------------------------------------------

  async loginWithCode(
    input: { mfaToken: string; code?: string | undefined; recoveryCode?: string | undefined },
    client: ClientContext,
    oauthClient: OAuthClient = DEFAULT_CLIENT,
  ): Promise<LoginResult> {
    const hasCode = input.code !== undefined && input.code !== '';
    const hasRecovery = input.recoveryCode !== undefined && input.recoveryCode !== '';
    if (hasCode === hasRecovery) {
      throw new AppError('validation_failed', 'Send either code or recovery_code', {
        errors: [{ field: hasCode ? 'recovery_code' : 'code', message: hasCode ? 'cannot be sent with code' : 'is required' }],
      });
    }
    const challenge = await this.liveChallenge(input.mfaToken, oauthClient.id);
    const checked = await this.checkCode(challenge, input, client);
    return this.countedIfRefused(challenge, checked, client, () =>
      this.finish(challenge, checked.attempt, checked.amr, client, oauthClient, checked.spend),
    );
  }

  /**
   * The hosted sign-in page's second step (OpenID Connect): one field, a TOTP code or a
   * recovery code. Spends the challenge when right; the caller starts the sign-on session
   * and ends the attempt. account_locked is thrown as on the password step.
   */
  async verifySignInCode(mfaToken: string, code: string, clientId: string, client: ClientContext): Promise<SecondFactorResult> {
    // An unknown or expired token starts again from the password; a database failure is not that.
    const challenge = await this.liveChallenge(mfaToken, clientId).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'invalid_mfa_token') return undefined;
      throw error;
    });
    if (!challenge) return { ok: false, retry: false };
    const typed = code.trim();
    let checked: CheckedCode;
    let user: User | undefined;
    try {
      checked = await this.checkCode(challenge, /^\d{6}$/.test(typed) ? { code: typed } : { recoveryCode: typed }, client);
      user = await this.stores.users.findById(challenge.userId);
      const spent =
        user !== undefined &&
        (await this.countedIfRefused(challenge, checked, client, () =>
          this.stores.transaction(async (tx) => {
            if (!(await tx.mfa.consumeChallenge(challenge.hash, 'mfa', this.clock.now()))) return false;
            await checked.spend(tx);
            return true;
          }),
        ));
      if (!spent) return { ok: false, retry: false };
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'invalid_mfa_code') throw error;
      // Another try while the token lives (it dies at MFA_MAX_CODE_ATTEMPTS).
      return { ok: false, retry: (await this.stores.mfa.findChallenge(challenge.hash, 'mfa', this.clock.now())) !== undefined };
    }
    return { ok: true, user: user!, amr: checked.amr, attempt: checked.attempt, deviceId: throttleSubject(challenge)?.deviceId };
  }

  /** Runs `complete`; a code refused inside it (a race lost) is counted like any wrong code. */
  private async countedIfRefused<T>(challenge: AuthChallenge, checked: CheckedCode, client: ClientContext, complete: () => Promise<T>): Promise<T> {
    try {
      return await complete();
    } catch (error) {
      if (error instanceof AppError && error.code === 'invalid_mfa_code') await this.countFailure(challenge, checked.attempt, client, checked.refusal);
      throw error;
    }
  }

  /**
   * A TOTP code or a recovery code against a live challenge, one throttle attempt taken
   * first. A TOTP code that matches no factor is counted (its attempt kept) and answered
   * invalid_mfa_code here; whether the code is still unused is decided when it is spent,
   * in the transaction that completes the step (see CheckedCode).
   */
  private async checkCode(
    challenge: AuthChallenge & { userId: number },
    input: { code?: string | undefined; recoveryCode?: string | undefined },
    client: ClientContext,
  ): Promise<CheckedCode> {
    const attempt = await this.beginStep(challenge, client);
    const now = this.clock.now();
    const amr: Amr[] = ['pwd', 'otp', 'mfa'];
    const userId = challenge.userId;
    if (input.code !== undefined && input.code !== '') {
      const matched = await this.matchTotp(userId, input.code, now);
      if (!matched) {
        await this.countFailure(challenge, attempt, client, 'wrong_totp_code');
        throw invalidMfaCode();
      }
      const { factor, step } = matched;
      const spend = async (tx: TransactionStores) => {
        if (!(await this.replay.record(tx, factor.id, step, now))) throw invalidMfaCode();
      };
      return { attempt, amr, spend, refusal: 'wrong_totp_code' };
    }
    const hash = hashToken(normaliseRecoveryCode(input.recoveryCode ?? ''));
    const spend = async (tx: TransactionStores) => {
      if (!(await tx.mfa.useRecoveryCode(userId, hash, now))) throw invalidMfaCode();
      const left = await tx.mfa.countRecoveryCodes(userId);
      await this.observer.onEvent({ type: 'mfa_recovery_code_used', userId, client, detail: { remaining: left } }, tx);
    };
    return { attempt, amr, spend, refusal: 'wrong_recovery_code' };
  }

  /**
   * The active TOTP factor this code is valid for and its time step, reserved against
   * replay on every instance when the guard is shared; else undefined.
   */
  private async matchTotp(userId: number, code: string, now: Date): Promise<{ factor: MfaFactor; step: number } | undefined> {
    const kek = this.options.keyEncryptionKey;
    for (const factor of await this.stores.mfa.listActive(userId)) {
      if (factor.type !== 'totp' || factor.secretSealed === null) continue;
      const step = matchingStep(open(kek, factor.secretSealed, factor.id), code, now);
      if (step !== undefined && (await this.replay.reserve(factor.id, step))) return { factor, step };
    }
    return undefined;
  }

  // ---- managing factors -----------------------------------------------------------

  async startTotp(principal: Principal, password: string, client: ClientContext) {
    const kek = this.options.keyEncryptionKey;
    const user = await this.account.confirmPassword(principal, password, client);
    const secret = newTotpSecret();
    const factor: NewFactor = { id: newId(), userId: user.id, type: 'totp', name: 'Authenticator app', createdAt: this.clock.now() };
    factor.secretSealed = seal(kek, secret, factor.id);
    await this.stores.mfa.createPendingTotp(factor);
    await this.observer.onEvent({ type: 'mfa_totp_enrolment_started', userId: user.id, client, detail: { factor_id: factor.id } });
    return { factor_id: factor.id, secret: base32(secret), otpauth_uri: otpauthUri(secret, this.options.issuerName, user.username) };
  }

  async activateTotp(principal: Principal, factorId: string, code: string, client: ClientContext) {
    const kek = this.options.keyEncryptionKey;
    const factor = await this.stores.mfa.findFactor(factorId, principal.userId);
    if (!factor || factor.type !== 'totp' || factor.activatedAt !== null || factor.secretSealed === null) {
      throw new AppError('not_found', 'No pending TOTP factor with this id; start again with POST /mfa/totp');
    }
    const now = this.clock.now();
    const step = matchingStep(open(kek, factor.secretSealed, factor.id), code, now);
    if (step === undefined || !(await this.replay.reserve(factor.id, step))) throw invalidMfaCode();
    return this.activate(principal, { factorId }, 'totp', factorId, client, async (tx) => {
      if (!(await this.replay.record(tx, factorId, step, now))) throw invalidMfaCode();
    });
  }

  /**
   * One transaction: the factor becomes active and, when it is the user's first, the
   * recovery codes are replaced and every other session ends (they never passed MFA);
   * the audit entry commits with them.
   */
  async activate(
    principal: Principal,
    what: { factorId?: string; factor?: NewFactor },
    type: MfaFactor['type'],
    factorId: string,
    client: ClientContext,
    spendCode?: (tx: TransactionStores) => Promise<void>,
  ) {
    const { codes, hashes } = newRecoveryCodes();
    const userId = principal.userId;
    const now = this.clock.now();
    const first = await this.stores.transaction(async (tx) => {
      await tx.mfa.lockUser(userId);
      await spendCode?.(tx);
      const isFirst = !(await tx.mfa.hasActive(userId));
      const activated = what.factor ? await tx.mfa.insertActive(what.factor, now) : await tx.mfa.activatePending(what.factorId ?? '', userId, now);
      if (!activated) {
        throw type === 'totp'
          ? new AppError('not_found', 'No pending TOTP factor with this id; start again with POST /mfa/totp')
          : new AppError('validation_failed', 'This passkey is already registered');
      }
      let sessionsRevoked = 0;
      if (isFirst) {
        await tx.mfa.replaceRecoveryCodes(userId, hashes, now);
        sessionsRevoked = await tx.sessions.revokeAllForUser(userId, now, 'mfa_enrolled', principal.sessionId);
      }
      await this.observer.onEvent(
        { type: 'mfa_factor_added', userId, client, detail: { factor_id: factorId, type, first: isFirst, sessions_revoked: sessionsRevoked } },
        tx,
      );
      return isFirst;
    });
    return { factor_id: factorId, ...(first ? { recovery_codes: codes } : {}) };
  }

  listFactors(principal: Principal): Promise<MfaFactor[]> {
    return this.stores.mfa.listActive(principal.userId);
  }

  async removeFactor(principal: Principal, factorId: string, password: string, client: ClientContext): Promise<void> {
    await assertStepUp(this.stores.mfa, principal);
    await this.account.confirmPassword(principal, password, client);
    const userId = principal.userId;
    // One transaction: the factor, with the last one the recovery codes, and the audit entry.
    await this.stores.transaction(async (tx) => {
      await tx.mfa.lockUser(userId);
      const factor = await tx.mfa.findFactor(factorId, userId);
      if (!factor || !(await tx.mfa.deleteFactor(factorId, userId))) throw new AppError('not_found', 'No such factor');
      const last = !(await tx.mfa.hasActive(userId));
      if (last) await tx.mfa.deleteRecoveryCodes(userId);
      await this.observer.onEvent({ type: 'mfa_factor_removed', userId, client, detail: { factor_id: factorId, type: factor.type, last } }, tx);
    });
  }

  /** `gatehouse users mfa-reset` (see resetUserMfa). */
  resetUser(username: string): Promise<{ userId: number; removed: number } | undefined> {
    return resetUserMfa(this.stores, this.observer, username);
  }

  async regenerateRecoveryCodes(principal: Principal, password: string, client: ClientContext): Promise<string[]> {
    await assertStepUp(this.stores.mfa, principal);
    if (!(await this.stores.mfa.hasActive(principal.userId))) {
      throw new AppError('not_found', 'Recovery codes come with an active factor; enrol one first');
    }
    await this.account.confirmPassword(principal, password, client);
    const { codes, hashes } = newRecoveryCodes();
    await this.stores.transaction(async (tx) => {
      await tx.mfa.replaceRecoveryCodes(principal.userId, hashes, this.clock.now());
      await this.observer.onEvent({ type: 'mfa_recovery_codes_regenerated', userId: principal.userId, client }, tx);
    });
    return codes;
  }
}

/**
 * `gatehouse users mfa-reset`: every factor and recovery code of the user goes (the day
 * someone loses both phone and codes); audited. Undefined for an unknown user.
 */
export async function resetUserMfa(stores: Stores, observer: AuthObserver, username: string): Promise<{ userId: number; removed: number } | undefined> {
  const user = await stores.users.findByLogin(loginKey(username));
  if (!user) return undefined;
  const removed = await stores.transaction(async (tx) => {
    const count = await tx.mfa.deleteAllForUser(user.id);
    await observer.onEvent({ type: 'mfa_reset_by_admin', userId: user.id, detail: { factors_removed: count, by: 'cli' } }, tx);
    return count;
  });
  return { userId: user.id, removed };
}
