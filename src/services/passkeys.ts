/**
 * Passkeys (WebAuthn) through @simplewebauthn/server: registration for a signed-in user,
 * and login either with a discoverable credential and no username (a complete,
 * multi-factor login: the authenticator verified the user) or as the second step after a
 * password (`mfa_token`). Every ceremony's challenge is kept server-side (by digest,
 * single use, 5 minutes); signature counters that do not move forward are refused, the
 * sign of a cloned authenticator.
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { hashToken, newId } from '../crypto/random.js';
import type { Amr, MfaFactor, OAuthClient, Principal, User } from '../domain/types.js';
import { AppError, invalidCredentials } from '../errors/index.js';
import { lazyImport } from '../runtime/lazy-import.js';
import type { AccountService } from './account-service.js';
import type { AuthService, ClientContext, LoginResult } from './auth-service.js';
import { DEFAULT_CLIENT } from './client-registry.js';
import type { LoginAttempt } from './login-throttle.js';
import { mfaDeviceId, type MfaService } from './mfa-service.js';
import type { SecondFactorResult } from './oidc/second-factor.js';
import type { AuthChallenge, AuthObserver, Clock, Stores } from './ports.js';

/**
 * @simplewebauthn/server is loaded at the first ceremony, not at start-up, as the database
 * driver and the mailer are (storage/index.ts, mail/mailers.ts). Its module graph (ASN.1 and
 * X.509 schemas, a dependency-injection container) is ~4.4 MB of heap, and merely importing
 * it into a build without passkeys made every GET /healthz cost more CPU (docs/performance.md,
 * "Before and after"). A server whose users never use passkeys never loads it; the first
 * ceremony of a process waits for the import once. Each use case loads it before it reads or
 * spends anything, so a failed import is a 500 that changes nothing (a challenge stays
 * unspent) rather than a refusal of the user's passkey.
 */
const webauthn = lazyImport(() => import('@simplewebauthn/server'));

export interface PasskeyOptions {
  rpId: string;
  rpName: string;
  origins: string[];
  challengeTtlSeconds: number;
}

/** The challenge the browser signed, read from clientDataJSON (verification checks it again). */
function signedChallenge(response: { response?: { clientDataJSON?: unknown } }): string {
  const encoded = response.response?.clientDataJSON;
  if (typeof encoded !== 'string') throw unreadable();
  try {
    const data: unknown = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    const challenge = (data as { challenge?: unknown } | null)?.challenge;
    if (typeof challenge === 'string' && challenge.length > 0 && challenge.length <= 512) return challenge;
  } catch {
    // falls through
  }
  throw unreadable();
}

function unreadable(): AppError {
  return new AppError('validation_failed', 'The WebAuthn response is malformed', { errors: [{ field: 'response', message: 'is not a WebAuthn response' }] });
}

const refused = (): AppError => new AppError('invalid_credentials', 'The passkey was not accepted');

/** A passkey assertion that verified: whose, how (RFC 8176), and, as a second step, the mfa challenge it answers. */
export interface VerifiedPasskey {
  user: User;
  amr: Amr[];
  factor: MfaFactor;
  second: { challenge: AuthChallenge & { userId: number }; attempt: LoginAttempt | undefined } | undefined;
}

/** What PasskeyService is built from (composition.ts). */
export interface PasskeyServiceDeps {
  stores: Stores;
  account: AccountService;
  auth: AuthService;
  mfa: MfaService;
  observer: AuthObserver;
  clock: Clock;
  options: PasskeyOptions;
}

export class PasskeyService {
  private readonly stores: Stores;
  private readonly account: AccountService;
  private readonly auth: AuthService;
  private readonly mfa: MfaService;
  private readonly observer: AuthObserver;
  private readonly clock: Clock;
  private readonly options: PasskeyOptions;

  constructor(deps: PasskeyServiceDeps) {
    this.stores = deps.stores;
    this.account = deps.account;
    this.auth = deps.auth;
    this.mfa = deps.mfa;
    this.observer = deps.observer;
    this.clock = deps.clock;
    this.options = deps.options;
  }

  private async remember(challenge: string, kind: AuthChallenge['kind'], userId: number | null): Promise<void> {
    const now = this.clock.now();
    await this.stores.mfa.createChallenge({
      hash: hashToken(challenge),
      kind,
      userId,
      throttleKey: null,
      clientId: null,
      attempts: 0,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.options.challengeTtlSeconds * 1000),
    });
  }

  async registrationOptions(principal: Principal, password: string, client: ClientContext) {
    const { generateRegistrationOptions } = await webauthn();
    const user = await this.account.confirmPassword(principal, password, client);
    const existing = (await this.stores.mfa.listActive(user.id)).filter((f) => f.type === 'webauthn' && f.credentialId !== null);
    const options = await generateRegistrationOptions({
      rpName: this.options.rpName,
      rpID: this.options.rpId,
      userName: user.username,
      // The user handle: opaque and stable, so one authenticator keeps one passkey per account.
      userID: Buffer.from(hashToken(`gatehouse-user:${user.id}`), 'base64url').subarray(0, 16),
      attestationType: 'none',
      excludeCredentials: existing.map((f) => ({ id: f.credentialId!, transports: f.transports })),
      // Discoverable, so the login needs no username.
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      timeout: this.options.challengeTtlSeconds * 1000,
    });
    await this.remember(options.challenge, 'webauthn_register', user.id);
    return options;
  }

  async register(principal: Principal, response: RegistrationResponseJSON, name: string | undefined, client: ClientContext) {
    const { verifyRegistrationResponse } = await webauthn();
    const challenge = signedChallenge(response);
    const ceremony = await this.stores.mfa.consumeChallenge(hashToken(challenge), 'webauthn_register', this.clock.now());
    if (!ceremony || ceremony.userId !== principal.userId) {
      throw new AppError('validation_failed', 'Unknown, expired or used registration challenge; ask for new options');
    }
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.options.origins,
        expectedRPID: this.options.rpId,
        requireUserVerification: false,
      });
    } catch (error) {
      throw new AppError('validation_failed', 'The passkey registration did not verify', { cause: error });
    }
    if (!verified.verified) throw new AppError('validation_failed', 'The passkey registration did not verify');
    const { credential } = verified.registrationInfo;
    const factorId = newId();
    return this.mfa.activate(
      principal,
      {
        factor: {
          id: factorId,
          userId: principal.userId,
          type: 'webauthn',
          name: name ?? 'Passkey',
          createdAt: this.clock.now(),
          credentialId: credential.id,
          publicKey: Buffer.from(credential.publicKey).toString('base64url'),
          counter: credential.counter,
          transports: credential.transports ?? [],
        },
      },
      'webauthn',
      factorId,
      client,
    );
  }

  /**
   * With an mfa_token: the user's passkeys are allowed; without: any discoverable one, and
   * the user must be verified. `clientId` is the client the mfa_token was issued to (the
   * API's default client, or the hosted pages' sign-in client).
   */
  async loginOptions(mfaToken: string | undefined, oauthClient: Pick<OAuthClient, 'id'> = DEFAULT_CLIENT) {
    let userId: number | null = null;
    let allow: Array<{ id: string; transports: string[] }> | undefined;
    const { generateAuthenticationOptions } = await webauthn();
    if (mfaToken !== undefined) {
      const challenge = await this.mfa.liveChallenge(mfaToken, oauthClient.id);
      userId = challenge.userId;
      allow = (await this.stores.mfa.listActive(userId))
        .filter((f) => f.type === 'webauthn' && f.credentialId !== null)
        .map((f) => ({ id: f.credentialId!, transports: f.transports }));
    }
    const options = await generateAuthenticationOptions({
      rpID: this.options.rpId,
      ...(allow ? { allowCredentials: allow } : {}),
      userVerification: mfaToken === undefined ? 'required' : 'preferred',
      timeout: this.options.challengeTtlSeconds * 1000,
    });
    await this.remember(options.challenge, 'webauthn_login', userId);
    return options;
  }

  /**
   * The verification half of a passkey login: the assertion against its ceremony, the
   * stored credential and its counter. Without an mfa_token it is the whole login (the
   * user must be verified); with one it is the second step, its throttle attempt taken
   * first and a refusal counted against the token, which the caller spends. Issues nothing.
   */
  async verify(response: AuthenticationResponseJSON, mfaToken: string | undefined, client: ClientContext, oauthClient: Pick<OAuthClient, 'id'> = DEFAULT_CLIENT): Promise<VerifiedPasskey> {
    const { verifyAuthenticationResponse } = await webauthn();
    const challenge = signedChallenge(response);
    const mfaChallenge = mfaToken === undefined ? undefined : await this.mfa.liveChallenge(mfaToken, oauthClient.id);
    const attempt = mfaChallenge && (await this.mfa.beginStep(mfaChallenge, client));
    const ceremony = await this.stores.mfa.consumeChallenge(hashToken(challenge), 'webauthn_login', this.clock.now());
    const factor = typeof response.id === 'string' ? await this.stores.mfa.findByCredentialId(response.id) : undefined;
    // The ceremony must be the one for this login: username-less (no user) or this user's.
    const userId = mfaChallenge?.userId ?? null;
    if (!ceremony || ceremony.userId !== userId || !factor || factor.type !== 'webauthn' || (userId !== null && factor.userId !== userId)) {
      if (mfaChallenge) await this.mfa.countFailure(mfaChallenge, attempt, client, 'passkey_refused');
      await this.observer.onEvent({ type: 'login_failed', userId: factor?.userId ?? userId ?? undefined, client, detail: { reason: 'passkey_unknown' } });
      throw refused();
    }
    let info;
    try {
      const verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.options.origins,
        expectedRPID: this.options.rpId,
        credential: { id: factor.credentialId!, publicKey: Buffer.from(factor.publicKey ?? '', 'base64url'), counter: factor.counter, transports: factor.transports },
        requireUserVerification: mfaChallenge === undefined,
      });
      if (!verified.verified) throw new Error('not verified');
      info = verified.authenticationInfo;
    } catch (error) {
      const reason = error instanceof Error && /counter/i.test(error.message) ? 'passkey_counter_regressed' : 'passkey_not_verified';
      if (mfaChallenge) await this.mfa.countFailure(mfaChallenge, attempt, client, reason);
      await this.observer.onEvent({ type: 'login_failed', userId: factor.userId, client, detail: { reason, factor_id: factor.id } });
      throw refused();
    }
    // Conditional on the stored counter: two assertions with one counter value cannot both pass.
    if (!(await this.stores.mfa.advanceCounter(factor.id, info.newCounter, this.clock.now()))) {
      await this.observer.onEvent({ type: 'login_failed', userId: factor.userId, client, detail: { reason: 'passkey_counter_regressed', factor_id: factor.id } });
      throw refused();
    }
    const user = await this.stores.users.findById(factor.userId);
    if (!user) throw invalidCredentials();
    if (mfaChallenge) {
      const amr: Amr[] = info.userVerified ? ['pwd', 'hwk', 'user', 'mfa'] : ['pwd', 'hwk', 'mfa'];
      return { user, amr, factor, second: { challenge: mfaChallenge, attempt } };
    }
    return { user, amr: ['hwk', 'user', 'mfa'], factor, second: undefined };
  }

  /** POST /webauthn/login: the verification, then the tokens (the mfa_token spent in the session's transaction). */
  async login(response: AuthenticationResponseJSON, mfaToken: string | undefined, client: ClientContext, oauthClient: OAuthClient = DEFAULT_CLIENT): Promise<LoginResult> {
    const verified = await this.verify(response, mfaToken, client, oauthClient);
    if (verified.second) return this.mfa.finish(verified.second.challenge, verified.second.attempt, verified.amr, client, oauthClient);
    return this.auth.completeLogin(verified.user, verified.amr, { client, oauthClient });
  }

  /**
   * The hosted sign-in page (OpenID Connect): the verification, the mfa_token (if any)
   * spent, no tokens: the caller starts the sign-on session and ends the attempt. A
   * refused passkey is `{ ok: false }`, `retry` while the mfa_token lives on;
   * account_locked and email_not_verified are thrown as on the password page.
   */
  async verifySignIn(response: AuthenticationResponseJSON, mfaToken: string | undefined, clientId: string, client: ClientContext): Promise<SecondFactorResult> {
    let verified: VerifiedPasskey;
    try {
      verified = await this.verify(response, mfaToken, client, { id: clientId });
    } catch (error) {
      if (!(error instanceof AppError) || !['invalid_credentials', 'validation_failed', 'invalid_mfa_token'].includes(error.code)) throw error;
      if (mfaToken === undefined) return { ok: false, retry: true };
      const live = await this.stores.mfa.findChallenge(hashToken(mfaToken), 'mfa', this.clock.now());
      return { ok: false, retry: live !== undefined };
    }
    await this.auth.assertMayLogIn(verified.user, client);
    if (!verified.second) return { ok: true, user: verified.user, amr: verified.amr, attempt: undefined, deviceId: undefined };
    const { challenge, attempt } = verified.second;
    if (!(await this.stores.mfa.consumeChallenge(challenge.hash, 'mfa', this.clock.now()))) return { ok: false, retry: false };
    return { ok: true, user: verified.user, amr: verified.amr, attempt, deviceId: mfaDeviceId(challenge) };
  }
}
