/**
 * Gatehouse as an OpenID Connect provider, on its own session model:
 * - a browser sign-in is a normal Gatehouse session (client `gatehouse:signin`), whose
 *   secret lives in the sign-in cookie; it is the single sign-on session (`sid`);
 * - each client sign-in (a redeemed authorization code) is a normal Gatehouse session of
 *   that client, with Gatehouse's rotating refresh token, linked to the sign-on session;
 * - logout ends the sign-on session and, in the same statement, every session it signed in.
 * No HTTP here: the routes turn outcomes into pages and redirects.
 */
import { hashToken, newId, newRefreshToken, randomSecret } from '../../crypto/random.js';
import { acrFor, pkceMatches, redirectUriRegistered } from '../../domain/oidc.js';
import type { Amr, OAuthClient, Principal, User } from '../../domain/types.js';
import { AppError } from '../../errors/index.js';
import type { AccessTokens } from '../access-tokens.js';
import type { AuthService, ClientContext } from '../auth-service.js';
import type { ClientRegistry } from '../client-registry.js';
import type { OidcGrant } from '../oidc-ports.js';
import type { AuthObserver, Clock, Stores } from '../ports.js';
import { accountThrottleKey } from '../login-throttle.js';
import { checkAuthorizationRequest, type AuthorizationParams, type RedirectTarget, type ValidAuthorizationRequest } from './authorization-request.js';
import type { IdTokens } from './id-tokens.js';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { PasskeyStep, SecondFactorChallenge, SecondFactorResult, SecondFactorStep } from './second-factor.js';

/** The pseudo-client of browser sign-in sessions. The colon keeps it from ever being a registered id. */
export const SIGNIN_CLIENT_ID = 'gatehouse:signin';

const CODE_TTL_MS = 60_000;

export interface SignOnSession {
  id: string;
  user: User;
  authTime: Date;
  amr: string[];
}

export interface AuthorizationResponse {
  target: RedirectTarget;
  params: Record<string, string>;
}

export type AuthorizeOutcome =
  | { kind: 'error_page'; page: 'unknown_client' | 'bad_redirect_uri' | 'missing_redirect_uri' }
  | { kind: 'respond'; response: AuthorizationResponse }
  | { kind: 'sign_in'; request: ValidAuthorizationRequest }
  | { kind: 'consent'; request: ValidAuthorizationRequest; session: SignOnSession; scopes: string[] };

export interface CodeTokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  scope: string;
  id_token?: string;
  refresh_token?: string;
}

export interface UserinfoClaims {
  sub: string;
  preferred_username?: string;
  email?: string;
  email_verified?: boolean;
}

/** A sign-in finished on a later page (second factor, passkey); `retry` while the mfa_token lives on. */
export type PageSignIn = { ok: true; cookieToken: string; session: SignOnSession; deviceToken: string } | { ok: false; retry: boolean };

export interface OidcServiceOptions {
  issuer: string;
  refreshTtlSeconds: number;
  /** The second step of a sign-in (the MFA service); password only without it. */
  secondFactor?: SecondFactorStep | undefined;
  /** Passkeys on the pages (the passkey service); off when passkeys are (a bare-IP PUBLIC_URL). */
  passkeys?: PasskeyStep | undefined;
  /** Sends a Back-Channel Logout token; failures are the client's problem, not the user's. */
  sendBackchannelLogout?: (uri: string, logoutToken: string) => Promise<void>;
}

function invalidGrant(detail: string): AppError {
  return new AppError('invalid_token', detail);
}

export class OidcService {
  constructor(
    private readonly stores: Stores,
    private readonly auth: AuthService,
    private readonly clients: ClientRegistry,
    private readonly accessTokens: AccessTokens,
    private readonly idTokens: IdTokens,
    private readonly observer: AuthObserver,
    private readonly clock: Clock,
    private readonly options: OidcServiceOptions,
  ) {}

  /** The sign-on session behind a sign-in cookie, when it is live. */
  async signOnSession(cookieToken: string | undefined): Promise<SignOnSession | undefined> {
    if (!cookieToken || cookieToken.length > 128) return undefined;
    const session = await this.stores.sessions.findByRefreshHash(hashToken(cookieToken));
    const now = this.clock.now();
    if (!session || session.clientId !== SIGNIN_CLIENT_ID || session.revokedAt !== null || session.expiresAt <= now) return undefined;
    const [user, grant] = await Promise.all([this.stores.users.findById(session.userId), this.stores.oidc.findGrant(session.id)]);
    if (!user || !grant) return undefined;
    return { id: session.id, user, authTime: grant.authTime, amr: grant.amr };
  }

  /**
   * Sign in with username (or email) and password: a new sign-on session and its cookie
   * secret, or, for a user with a second factor, the challenge the second page answers.
   */
  async signIn(
    input: { username: string; password: string; deviceToken?: string | undefined },
    client: ClientContext,
  ): Promise<
    | { kind: 'signed_in'; cookieToken: string; session: SignOnSession; deviceToken: string }
    | { kind: 'second_factor'; challenge: SecondFactorChallenge }
  > {
    const { user, rehashed, deviceId, attempt } = await this.auth.checkPassword(input, client);
    if (rehashed !== undefined) {
      await this.stores.users.updatePasswordHash(user.id, rehashed);
      await this.auth.rehashStored(user);
    }
    // As /login: the right password alone clears nothing while a second factor is due.
    const challenge = await this.options.secondFactor?.challenge(user, { throttle: { account: accountThrottleKey(user.id, ''), deviceId }, clientId: SIGNIN_CLIENT_ID }, client);
    if (challenge) {
      await attempt.givenBack();
      return { kind: 'second_factor', challenge };
    }
    const signedIn = await this.startSignOnSession(user, ['pwd'], client);
    await attempt.succeeded();
    // As after /login: this device proved the password, and gets its own failure budget next time.
    return { kind: 'signed_in', ...signedIn, deviceToken: await this.auth.issueDeviceToken(user.id, deviceId) };
  }

  /**
   * The second page: a right code finishes the sign-in (amr from the factor, e.g. pwd otp
   * mfa); account_locked is thrown when the budgets are spent, as on the password page.
   */
  async completeSecondFactor(mfaToken: string, code: string, client: ClientContext): Promise<PageSignIn> {
    const step = this.options.secondFactor;
    if (!step) return { ok: false, retry: false };
    return this.finishPageSignIn(await step.verify(mfaToken, code, SIGNIN_CLIENT_ID, client), client);
  }

  /** Whether the pages offer passkeys. */
  get passkeysEnabled(): boolean {
    return this.options.passkeys !== undefined;
  }

  /** WebAuthn request options for the pages' passkey script: username-less, or for the user of a live mfa_token. */
  async passkeyOptions(mfaToken: string | undefined) {
    const passkeys = this.options.passkeys;
    if (!passkeys) throw new AppError('not_found', 'Passkeys are not available here');
    return passkeys.options(mfaToken, SIGNIN_CLIENT_ID);
  }

  /**
   * A passkey at the pages: without an mfa_token a complete sign-in (amr hwk user mfa),
   * with one the second step after the password (amr pwd hwk ... mfa). The same sign-on
   * session as a password sign-in.
   */
  async signInWithPasskey(response: AuthenticationResponseJSON, mfaToken: string | undefined, client: ClientContext): Promise<PageSignIn> {
    const passkeys = this.options.passkeys;
    if (!passkeys) return { ok: false, retry: false };
    return this.finishPageSignIn(await passkeys.verify(response, mfaToken, SIGNIN_CLIENT_ID, client), client);
  }

  private async finishPageSignIn(result: SecondFactorResult, client: ClientContext): Promise<PageSignIn> {
    if (!result.ok) return result;
    const signedIn = await this.startSignOnSession(result.user, result.amr, client);
    await result.attempt?.succeeded();
    return { ok: true, ...signedIn, deviceToken: await this.auth.issueDeviceToken(result.user.id, result.deviceId) };
  }

  private async startSignOnSession(user: User, amr: Amr[], client: ClientContext): Promise<{ cookieToken: string; session: SignOnSession }> {
    const now = this.clock.now();
    // The cookie secret has a refresh token's strength and is stored as a hash the same way;
    // it is not a refresh token: /refresh refuses it (wrong client).
    const cookieToken = newRefreshToken();
    const id = newId();
    await this.stores.transaction(async (tx) => {
      await tx.sessions.create({
        id,
        userId: user.id,
        clientId: SIGNIN_CLIENT_ID,
        refreshHash: hashToken(cookieToken),
        userAgent: client.userAgent?.slice(0, 512) ?? null,
        ip: client.ip,
        createdAt: now,
        expiresAt: new Date(now.getTime() + this.options.refreshTtlSeconds * 1000),
        amr,
      });
      await tx.oidc.saveGrant({ sessionId: id, ssoSessionId: id, clientId: SIGNIN_CLIENT_ID, scope: [], authTime: now, amr, createdAt: now });
      await this.observer.onEvent({ type: 'login_succeeded', userId: user.id, client, detail: { client_id: SIGNIN_CLIENT_ID, amr: amr.join(' ') } }, tx);
    });
    return { cookieToken, session: { id, user, authTime: now, amr } };
  }

  /** The authorization endpoint's decision: error page, redirect back, sign in, or consent. */
  async authorize(params: AuthorizationParams, session: SignOnSession | undefined, options: { freshSignIn?: boolean } = {}): Promise<AuthorizeOutcome> {
    const client = await this.clients.find(params.client_id);
    const checked = checkAuthorizationRequest(params, client);
    if (!checked.ok) {
      if (checked.redirect === undefined) return { kind: 'error_page', page: checked.page };
      return { kind: 'respond', response: this.errorResponse(checked.redirect, checked.error, checked.description) };
    }
    const request = checked.request;
    const target = { redirectUri: request.redirectUri, responseMode: request.responseMode, state: request.state };
    const now = this.clock.now();
    // A sign-in that just happened satisfies max_age (even 0) and prompt=login.
    const tooOld =
      !options.freshSignIn &&
      session !== undefined &&
      request.maxAgeSeconds !== undefined &&
      now.getTime() - session.authTime.getTime() > request.maxAgeSeconds * 1000;
    const mustSignIn = session === undefined || tooOld || (request.prompts.has('login') && !options.freshSignIn);
    if (mustSignIn) {
      if (request.prompts.has('none')) return { kind: 'respond', response: this.errorResponse(target, 'login_required', 'The user is not signed in') };
      return { kind: 'sign_in', request };
    }
    if (!request.client.firstParty) {
      const granted = (await this.stores.oidc.findConsent(session.user.id, request.client.id)) ?? [];
      const missing = request.scope.filter((s) => !granted.includes(s));
      if (request.prompts.has('consent') || missing.length > 0 || granted.length === 0) {
        if (request.prompts.has('none')) {
          return { kind: 'respond', response: this.errorResponse(target, 'consent_required', 'The user has not consented to this client') };
        }
        return { kind: 'consent', request, session, scopes: request.scope };
      }
    }
    return { kind: 'respond', response: await this.issueCode(request, session) };
  }

  /** The user's answer on the consent page (the request is checked again from scratch). */
  async decide(params: AuthorizationParams, session: SignOnSession, decision: 'allow' | 'deny', client: ClientContext): Promise<AuthorizeOutcome> {
    const checked = checkAuthorizationRequest(params, await this.clients.find(params.client_id));
    if (!checked.ok) {
      if (checked.redirect === undefined) return { kind: 'error_page', page: checked.page };
      return { kind: 'respond', response: this.errorResponse(checked.redirect, checked.error, checked.description) };
    }
    const request = checked.request;
    const target = { redirectUri: request.redirectUri, responseMode: request.responseMode, state: request.state };
    if (decision === 'deny') {
      return { kind: 'respond', response: this.errorResponse(target, 'access_denied', 'The user declined') };
    }
    await this.stores.oidc.saveConsent(session.user.id, request.client.id, request.scope, this.clock.now());
    await this.observer.onEvent({ type: 'consent_granted', userId: session.user.id, client, detail: { client_id: request.client.id, scope: request.scope.join(' ') } });
    return { kind: 'respond', response: await this.issueCode(request, session) };
  }

  private async issueCode(request: ValidAuthorizationRequest, session: SignOnSession): Promise<AuthorizationResponse> {
    const now = this.clock.now();
    const code = 'ghc_' + randomSecret(32);
    await this.stores.oidc.saveCode({
      hash: hashToken(code),
      clientId: request.client.id,
      userId: session.user.id,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      scope: request.scope,
      nonce: request.nonce ?? null,
      ssoSessionId: session.id,
      authTime: session.authTime,
      amr: session.amr,
      acr: request.acrRequested ? acrFor(session.amr) : null,
      createdAt: now,
      expiresAt: new Date(now.getTime() + CODE_TTL_MS),
      usedAt: null,
      sessionId: null,
    });
    const params: Record<string, string> = { code };
    if (request.state !== undefined) params.state = request.state;
    params.iss = this.options.issuer;
    return { target: { redirectUri: request.redirectUri, responseMode: request.responseMode, state: request.state }, params };
  }

  /** RFC 6749 §4.1.2.1 with RFC 9207's `iss`, on every error that may be redirected. */
  errorResponse(target: RedirectTarget, error: string, description: string): AuthorizationResponse {
    const params: Record<string, string> = { error, error_description: description };
    if (target.state !== undefined) params.state = target.state;
    params.iss = this.options.issuer;
    return { target, params };
  }

  /**
   * The authorization_code grant. Each failure is `invalid_grant` (RFC 6749 §5.2); a code
   * presented a second time revokes the session its first redemption created (RFC 9700 §4.1.3
   * / OAuth 2.1 §4.1.3).
   */
  async exchangeCode(
    client: OAuthClient,
    input: { code: string | undefined; redirectUri: string | undefined; codeVerifier: string | undefined },
    context: ClientContext,
  ): Promise<CodeTokenResponse> {
    if (!input.code) throw new AppError('validation_failed', 'code is required');
    const now = this.clock.now();
    const hash = hashToken(input.code);
    const code = await this.stores.oidc.findCode(hash);
    if (!code) throw invalidGrant('The authorization code is invalid');
    if (code.usedAt !== null) {
      await this.revokeRedemption(code.sessionId, code.userId, client, context);
      throw invalidGrant('The authorization code was already used; the tokens it gave are revoked');
    }
    if (code.expiresAt <= now) throw invalidGrant('The authorization code has expired');
    if (code.clientId !== client.id) throw invalidGrant('The authorization code was issued to another client');
    if (input.redirectUri !== code.redirectUri) throw invalidGrant('redirect_uri does not match the authorization request');
    if (!pkceMatches(input.codeVerifier, code.codeChallenge)) throw invalidGrant('code_verifier does not match the code_challenge');

    // The sign-on session may have ended (logout) since the code was issued.
    const user = await this.stores.sessions.findLiveSessionUser(code.ssoSessionId, '', now);
    if (!user || user.id !== code.userId) throw invalidGrant('The sign-in behind this code has ended');

    const refreshToken = newRefreshToken();
    const sessionId = newId();
    const grant: OidcGrant = {
      sessionId,
      ssoSessionId: code.ssoSessionId,
      clientId: client.id,
      scope: code.scope,
      authTime: code.authTime,
      amr: code.amr,
      createdAt: now,
    };
    // One transaction: the code is spent, the client's session and its grant exist, or none of it.
    const redeemed = await this.stores.transaction(async (tx) => {
      if (!(await tx.oidc.markCodeUsed(hash, now, sessionId))) return false;
      await tx.sessions.create({
        id: sessionId,
        userId: user.id,
        clientId: client.id,
        refreshHash: hashToken(refreshToken),
        userAgent: context.userAgent?.slice(0, 512) ?? null,
        ip: context.ip,
        createdAt: now,
        expiresAt: new Date(now.getTime() + this.options.refreshTtlSeconds * 1000),
        amr: code.amr as Amr[],
      });
      await tx.oidc.saveGrant(grant);
      await this.observer.onEvent({ type: 'login_succeeded', userId: user.id, client: context, detail: { client_id: client.id, grant: 'authorization_code' } }, tx);
      return true;
    });
    if (!redeemed) {
      // Lost a race with another redemption of the same code: that one is the reuse.
      const again = await this.stores.oidc.findCode(hash);
      await this.revokeRedemption(again?.sessionId ?? null, code.userId, client, context);
      throw invalidGrant('The authorization code was already used; the tokens it gave are revoked');
    }
    const scope = code.scope.join(' ');
    const response: CodeTokenResponse = {
      // auth_time is the sign-in's, not this exchange's (RFC 9470 step-up compares it).
      access_token: await this.accessTokens.issue(user, { id: sessionId, createdAt: code.authTime, amr: code.amr as Amr[] }, client, scope),
      token_type: 'bearer',
      expires_in: this.accessTokens.ttlSeconds,
      scope,
    };
    if (code.scope.includes('openid')) {
      response.id_token = await this.idTokens.issue({
        user,
        client,
        scope: code.scope,
        nonce: code.nonce,
        authTime: code.authTime,
        amr: code.amr,
        acr: code.acr,
        sid: code.ssoSessionId,
      });
    }
    // Core §11: a refresh token only with offline_access (granted on consent, or first-party).
    if (code.scope.includes('offline_access') && client.grantTypes.includes('refresh_token')) response.refresh_token = refreshToken;
    return response;
  }

  private async revokeRedemption(sessionId: string | null, userId: number, client: OAuthClient, context: ClientContext): Promise<void> {
    if (sessionId !== null) await this.stores.sessions.revoke(sessionId, this.clock.now(), 'authorization_code_reuse');
    await this.observer.onEvent({ type: 'authorization_code_reuse', userId, client: context, detail: { client_id: client.id, ...(sessionId ? { session_id: sessionId } : {}) } });
  }

  /** OpenID Connect Core §5.3: the claims the access token's scopes allow. */
  userinfo(principal: Principal): UserinfoClaims {
    const scope = (principal.claims.scope ?? '').split(' ');
    if (!scope.includes('openid')) {
      throw new AppError('insufficient_scope', 'This access token was not issued with the openid scope');
    }
    const user = principal.user;
    const claims: UserinfoClaims = { sub: String(user.id) };
    if (scope.includes('profile')) claims.preferred_username = user.username;
    if (scope.includes('email')) {
      claims.email = user.email;
      claims.email_verified = user.emailVerified;
    }
    return claims;
  }

  /**
   * RP-initiated logout 1.0. Works out whom to log out and where to send the user after;
   * refuses (an error page, never a redirect) a forged hint or an unregistered
   * post_logout_redirect_uri.
   */
  async checkLogout(params: { id_token_hint?: string | undefined; post_logout_redirect_uri?: string | undefined; client_id?: string | undefined; state?: string | undefined }): Promise<
    | { ok: false; page: 'bad_id_token_hint' | 'bad_post_logout_redirect_uri' | 'unknown_client' }
    | { ok: true; client: OAuthClient | undefined; hintSid: string | undefined; hintSub: string | undefined; redirect: string | undefined }
  > {
    let client: OAuthClient | undefined;
    let hintSid: string | undefined;
    let hintSub: string | undefined;
    if (params.id_token_hint) {
      const hint = await this.idTokens.verifyHint(params.id_token_hint);
      if (!hint) return { ok: false, page: 'bad_id_token_hint' };
      if (params.client_id !== undefined && params.client_id !== hint.aud) return { ok: false, page: 'bad_id_token_hint' };
      client = await this.clients.find(hint.aud);
      hintSid = hint.sid;
      hintSub = hint.sub;
    } else if (params.client_id !== undefined) {
      client = await this.clients.find(params.client_id);
      if (!client) return { ok: false, page: 'unknown_client' };
    }
    let redirect: string | undefined;
    if (params.post_logout_redirect_uri !== undefined) {
      if (!client || !redirectUriRegistered(client.postLogoutRedirectUris, params.post_logout_redirect_uri)) {
        return { ok: false, page: 'bad_post_logout_redirect_uri' };
      }
      const url = new URL(params.post_logout_redirect_uri);
      if (params.state !== undefined) url.searchParams.set('state', params.state);
      redirect = url.toString();
    }
    return { ok: true, client, hintSid, hintSub, redirect };
  }

  /**
   * Ends sign-on sessions and every client session they signed in, then tells clients
   * with a back-channel logout URI. Only sessions of `userId` are ended.
   */
  async logout(sessionIds: string[], userId: number, context: ClientContext): Promise<number> {
    const now = this.clock.now();
    let ended = 0;
    for (const id of new Set(sessionIds)) {
      const session = await this.stores.oidc.findGrant(id);
      if (!session || session.ssoSessionId !== id) continue;
      const owner = await this.stores.sessions.findLiveSessionUser(id, '', now);
      if (!owner || owner.id !== userId) continue;
      const children = await this.stores.oidc.endSsoSession(id, now, 'oidc_logout');
      ended += 1;
      await this.observer.onEvent({ type: 'logout', userId, client: context, detail: { session_id: id, client_sessions: children.length } });
      void this.backchannel(children, userId, id);
    }
    return ended;
  }

  private async backchannel(children: Array<{ sessionId: string; clientId: string }>, userId: number, sid: string): Promise<void> {
    const send = this.options.sendBackchannelLogout;
    if (!send) return;
    for (const clientId of new Set(children.map((c) => c.clientId))) {
      const client = await this.clients.find(clientId).catch(() => undefined);
      if (!client?.backchannelLogoutUri) continue;
      const token = await this.idTokens.logoutToken(client, userId, sid);
      await send(client.backchannelLogoutUri, token).catch(() => undefined);
    }
  }

  /** The name a page shows for a client (its id when unknown). */
  async clientName(clientId: string | undefined): Promise<string | undefined> {
    return clientId === undefined ? undefined : ((await this.clients.find(clientId))?.name ?? clientId);
  }

  listConsents(principal: Principal): Promise<Array<{ clientId: string; scope: string[]; createdAt: Date }>> {
    return this.stores.oidc.listConsents(principal.userId);
  }

  /** Withdraws consent: the client asks again next time (its sessions live on; end them in /sessions). */
  async revokeConsent(principal: Principal, clientId: string, context: ClientContext): Promise<void> {
    if (!(await this.stores.oidc.revokeConsent(principal.userId, clientId))) throw new AppError('not_found', 'No consent for this client');
    await this.observer.onEvent({ type: 'consent_revoked', userId: principal.userId, client: context, detail: { client_id: clientId } });
  }

  /** Which clients each of these sign-on sessions signed in to (the sessions list). */
  async clientsOf(sessionIds: string[]): Promise<Map<string, string[]>> {
    const found = await this.stores.oidc.clientsOf(sessionIds);
    for (const [id, clients] of found) found.set(id, clients.filter((c) => c !== SIGNIN_CLIENT_ID));
    return found;
  }
}
