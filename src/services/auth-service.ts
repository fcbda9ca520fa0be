/**
 * The original service's session use cases: login, refresh (rotation with reuse
 * detection), logout, and the current user. Auth rules only: no HTTP, no SQL.
 */
import type { PasswordHasher } from '../crypto/password.js';
import { REFRESH_TOKEN_PREFIX, newId, newRefreshToken, hashToken } from '../crypto/random.js';
import { openChild, sealChild } from '../crypto/refresh-seal.js';
import { loginKey } from '../domain/identity.js';
import { decideRotation } from '../domain/refresh-rotation.js';
import type { Amr, OAuthClient, Principal, User } from '../domain/types.js';
import { DEFAULT_CLIENT } from './client-registry.js';
import { LegacyTokens } from './legacy-tokens.js';
import { AppError, invalidCredentials } from '../errors/index.js';
import type { AccessTokens } from './access-tokens.js';
import type { DeviceTokens } from './device-tokens.js';
import { LegacyHashTiming } from './legacy-hash-timing.js';
import { accountThrottleKey, type LoginAttempt, type LoginThrottle, type ThrottleSubject } from './login-throttle.js';
import type { AuthObserver, Clock, Stores, TransactionStores } from './ports.js';

/** What a login needs to hand over to its second step (see MfaChallengeIssuer). */
export interface MfaGate {
  /** The mfa_token and factor names when the user has an active factor, else undefined. */
  challenge(user: User, login: { throttle: ThrottleSubject; clientId: string }, client: ClientContext): Promise<{ mfaToken: string; factors: string[] } | undefined>;
  /** True when the user has an active second factor. */
  hasFactor(userId: number): Promise<boolean>;
}

function mfaRequired(challenge: { mfaToken: string; factors: string[] }): AppError {
  return new AppError('mfa_required', 'The password is right; complete the login with your second factor (POST /login/mfa or a passkey)', {
    members: { mfa_token: challenge.mfaToken, factors: challenge.factors },
  });
}

export interface ClientContext {
  /** Client address as the HTTP layer resolved it (after TRUST_PROXY). */
  ip: string;
  /** The key rate limits count by (IPv6 collapsed to its /64). */
  ipKey: string;
  userAgent: string | null;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  expires_in: number;
  /** Granted scopes, on tokens issued through OpenID Connect. */
  scope?: string;
}

/** A password login's answer: the pair, and the device token for the next login. */
export interface LoginResult extends TokenPair {
  device_token: string;
}

/** RFC 7662 §2.2 members of an active token. */
export interface Introspection {
  token_type: 'access_token' | 'refresh_token';
  sub: string;
  username: string;
  client_id: string;
  aud?: string | string[];
  iss: string;
  exp: number;
  iat: number;
  jti?: string;
  sid: string;
  scope?: string;
}

export interface AuthServiceOptions {
  /** `iss` of our tokens, reported by introspection. */
  issuer: string;
  /** REQUIRE_VERIFIED_EMAIL: refuse logins (403) until the address is verified. */
  requireVerifiedEmail: boolean;
  refreshTtlSeconds: number;
  reuseGraceSeconds: number;
  /** JWT_CLOCK_SKEW_SECONDS: tokens are accepted until exp + this, so revocations must outlive it. */
  clockSkewSeconds: number;
}

/** What AuthService is built from (composition.ts). */
export interface AuthServiceDeps {
  stores: Stores;
  hasher: PasswordHasher;
  tokens: AccessTokens;
  throttle: LoginThrottle;
  /** Device tokens (OWASP device cookies): issued at each password login, they exempt that device from the account lock. */
  devices: DeviceTokens;
  observer: AuthObserver;
  clock: Clock;
  options: AuthServiceOptions;
  /** Transition mode (LEGACY_SECRET_KEY): the original service's JWTs. */
  legacy?: LegacyTokens | undefined;
  /** Asks users with an active second factor for it after the right password. */
  mfaGate?: MfaGate | undefined;
}

export class AuthService {
  private readonly stores: Stores;
  private readonly hasher: PasswordHasher;
  private readonly tokens: AccessTokens;
  private readonly throttle: LoginThrottle;
  private readonly devices: DeviceTokens;
  private readonly observer: AuthObserver;
  private readonly clock: Clock;
  private readonly options: AuthServiceOptions;
  private readonly legacy: LegacyTokens | undefined;
  private readonly legacyTiming: LegacyHashTiming;
  private readonly mfaGate: MfaGate | undefined;

  constructor(deps: AuthServiceDeps) {
    this.stores = deps.stores;
    this.hasher = deps.hasher;
    this.tokens = deps.tokens;
    this.throttle = deps.throttle;
    this.devices = deps.devices;
    this.observer = deps.observer;
    this.clock = deps.clock;
    this.options = deps.options;
    this.legacy = deps.legacy;
    this.legacyTiming = new LegacyHashTiming(deps.stores.users, deps.hasher);
    this.mfaGate = deps.mfaGate;
  }

  async login(
    input: { username: string; password: string; deviceToken?: string | undefined },
    client: ClientContext,
    oauthClient: OAuthClient = DEFAULT_CLIENT,
  ): Promise<LoginResult> {
    const { user, rehashed, deviceId, attempt } = await this.checkPassword(input, client);
    // Only after the right password does anyone learn a factor exists. The password alone
    // clears nothing (or each right password would buy a fresh round of code guesses): the
    // attempt is given back, and the second step takes attempts of its own, from the same
    // budgets (this device's when the login presented its device token).
    const challenge = await this.mfaGate?.challenge(user, { throttle: { account: accountThrottleKey(user.id, ''), deviceId }, clientId: oauthClient.id }, client);
    if (challenge) {
      await attempt.givenBack();
      if (rehashed !== undefined) await this.stores.users.updatePasswordHash(user.id, rehashed);
      throw mfaRequired(challenge);
    }
    const tokens = await this.completeLogin(user, ['pwd'], { attempt, deviceId, client, oauthClient }, async (tx) => {
      if (rehashed !== undefined) await tx.users.updatePasswordHash(user.id, rehashed);
    });
    if (rehashed !== undefined) await this.rehashStored(user);
    return tokens;
  }

  /**
   * The password check every sign-in path shares (/login, the password grant, the hosted
   * sign-in page): limits and lockout (per device when `deviceToken` is a valid one of
   * this account), the same answer and time for an unknown user, the audit of failures.
   * `attempt`: the caller ends it (succeeded once the login stands, givenBack when a second
   * factor is due). `rehashed`: the new hash to store when the parameters changed (the
   * caller writes it, then calls rehashStored). `deviceId`: for the device token.
   */
  async checkPassword(
    input: { username: string; password: string; deviceToken?: string | undefined },
    client: ClientContext,
  ): Promise<{ user: User; rehashed: string | undefined; deviceId: string | undefined; attempt: LoginAttempt }> {
    const key = loginKey(input.username);
    const user = await this.stores.users.findByLogin(key);
    const deviceId = user ? await this.devices.deviceOf(input.deviceToken, user.id) : undefined;
    const attempt = await this.throttle.begin({ account: accountThrottleKey(user?.id, key), ipKey: client.ipKey, deviceId });
    // Every check costs the same while imported bcrypt hashes remain (see PasswordHasher).
    await this.legacyTiming.refreshIfStale();

    const result = user
      ? await this.hasher.verify(user.passwordHash, input.password)
      : { ok: await this.hasher.verifyDummy(input.password), needsRehash: false };

    if (!user || !result.ok) {
      const who = { userId: user?.id, client };
      await this.observer.onEvent({ type: 'login_failed', ...who, detail: { reason: user ? 'wrong_password' : 'unknown_user', ...(deviceId ? { known_device: true } : {}) } });
      if (attempt.locksOnFailure) await this.observer.onEvent({ type: 'lockout', ...who });
      throw invalidCredentials();
    }
    if (this.options.requireVerifiedEmail && !user.emailVerified) {
      // Only after the right password: the answer reveals nothing to a guesser.
      await attempt.succeeded();
      await this.observer.onEvent({ type: 'login_failed', userId: user.id, client, detail: { reason: 'email_not_verified' } });
      throw new AppError('email_not_verified', 'Verify your email address before logging in; POST /email/verify/request sends a new link');
    }

    // Hashed here, before any transaction: nothing waits on argon2 while one is open.
    const rehashed = result.needsRehash ? await this.hasher.hash(input.password) : undefined;
    return { user, rehashed, deviceId, attempt };
  }

  /** After the caller stored checkPassword's `rehashed`: perhaps the last imported hash, so the padding may end. */
  async rehashStored(user: User): Promise<void> {
    if (user.passwordHash.startsWith('$2')) await this.legacyTiming.refresh();
  }

  /** A device token for the next password sign-in of this account (the same device id when it presented one). */
  issueDeviceToken(userId: number, deviceId: string | undefined): Promise<string> {
    return this.devices.issue(userId, deviceId);
  }

  /** Device tokens last this long (seconds): the cookie's Max-Age. */
  get deviceTokenTtlSeconds(): number {
    return this.devices.ttlSeconds;
  }

  /**
   * What every completed login checks last: with REQUIRE_VERIFIED_EMAIL, a verified
   * address. A passkey login reaches here without the password step's check.
   */
  async assertMayLogIn(user: User, client: ClientContext): Promise<void> {
    if (this.options.requireVerifiedEmail && !user.emailVerified) {
      await this.observer.onEvent({ type: 'login_failed', userId: user.id, client, detail: { reason: 'email_not_verified' } });
      throw new AppError('email_not_verified', 'Verify your email address before logging in; POST /email/verify/request sends a new link');
    }
  }

  /**
   * The end of every successful login (password, or password and second factor, or
   * passkey): in one transaction `first` (what the use case writes before, if anything),
   * the session with its methods (RFC 8176) and the login_succeeded event; then the
   * throttle attempt succeeds and the device gets its token.
   */
  async completeLogin(
    user: User,
    amr: Amr[],
    context: { attempt?: LoginAttempt | undefined; deviceId?: string | undefined; client: ClientContext; oauthClient?: OAuthClient | undefined },
    first?: (tx: TransactionStores) => Promise<void>,
  ): Promise<LoginResult> {
    const { client, oauthClient = DEFAULT_CLIENT } = context;
    await this.assertMayLogIn(user, client);
    const tokens = await this.startSession(user, client, oauthClient, amr, { client_id: oauthClient.id, amr: amr.join(' ') }, first);
    // Cleared only once the login stands (a spent mfa_token rolls it back).
    await context.attempt?.succeeded();
    // A device that completed a login is known from now on (OWASP device cookies).
    return { ...tokens, device_token: await this.devices.issue(user.id, context.deviceId) };
  }

  /**
   * Rotation. The store locks the session row and applies `decideRotation`; a replay of
   * the just-rotated token inside the grace window gets the very child it got the first
   * time (opened from the seal with the presented token), never a second live branch.
   */
  async refresh(refreshToken: string, oauthClient: OAuthClient = DEFAULT_CLIENT, client?: ClientContext): Promise<TokenPair> {
    if (this.legacy && !refreshToken.startsWith(REFRESH_TOKEN_PREFIX) && oauthClient.id === DEFAULT_CLIENT.id) {
      return this.exchangeLegacyRefresh(this.legacy, refreshToken, client);
    }
    const now = this.clock.now();
    const child = newRefreshToken();
    const outcome = await this.stores.sessions.rotate({
      presentedHash: hashToken(refreshToken),
      now,
      childHash: hashToken(child),
      childSeal: sealChild(refreshToken, child),
      childExpiresAt: new Date(now.getTime() + this.options.refreshTtlSeconds * 1000),
      decide: (match, session) =>
        decideRotation({ match, session, now, graceMs: this.options.reuseGraceSeconds * 1000, clientId: oauthClient.id }),
    });
    if (!outcome.found) {
      await this.observer.onEvent({ type: 'refresh_refused', client, detail: { reason: 'unknown' } });
      throw invalidRefreshToken();
    }
    const { session, decision } = outcome;
    const who = { userId: session.userId, client };
    let issued: string;
    switch (decision.kind) {
      case 'rotate':
        issued = child;
        await this.observer.onEvent({ type: 'refresh_rotated', ...who });
        break;
      case 'replay': {
        const same = outcome.seal === null ? undefined : openChild(refreshToken, outcome.seal);
        if (same === undefined) throw invalidRefreshToken();
        issued = same;
        await this.observer.onEvent({ type: 'refresh_replayed', ...who });
        break;
      }
      case 'reuse':
        await this.observer.onEvent({ type: 'refresh_reuse_detected', ...who, detail: { session_id: session.id } });
        throw invalidRefreshToken();
      case 'refuse':
        await this.observer.onEvent({ type: 'refresh_refused', ...who, detail: { reason: decision.reason } });
        throw invalidRefreshToken();
    }
    const user = await this.stores.users.findById(session.userId);
    if (!user) throw invalidRefreshToken();
    // A session signed in through OpenID Connect keeps the scopes it was granted.
    const grant = oauthClient.redirectUris.length > 0 ? await this.stores.oidc.findGrant(session.id) : undefined;
    const scope = grant ? grant.scope.join(' ') : undefined;
    return { ...this.tokenPair(await this.tokens.issue(user, session, oauthClient, scope), issued), ...(scope === undefined ? {} : { scope }) };
  }

  /**
   * Revokes the caller's session at once. A refresh token in the body, when it belongs to
   * another session of the same user, is revoked too; anyone else's is ignored.
   */
  async logout(principal: Principal, refreshToken?: string, client?: ClientContext): Promise<void> {
    const now = this.clock.now();
    if (principal.legacy) {
      // An original-service token has no session: it joins the revoked list until it expires.
      await this.stores.revokedTokens.revoke(principal.tokenId, this.revocationEnd(principal.claims.exp));
      await this.observer.onEvent({ type: 'logout', userId: principal.userId, client, detail: { legacy: true } });
      return;
    }
    await this.stores.transaction(async (tx) => {
      await tx.sessions.revoke(principal.sessionId, now, 'logout');
      if (refreshToken) {
        const owner = await tx.sessions.findByRefreshHash(hashToken(refreshToken));
        if (owner && owner.userId === principal.userId && owner.id !== principal.sessionId) {
          await tx.sessions.revoke(owner.id, now, 'logout');
        }
      }
      await this.observer.onEvent({ type: 'logout', userId: principal.userId, client, detail: { session_id: principal.sessionId } }, tx);
    });
  }

  async authenticate(accessToken: string): Promise<Principal> {
    try {
      return await this.tokens.authenticate(accessToken);
    } catch (error) {
      if (!this.legacy || !(error instanceof AppError) || error.code !== 'invalid_token') throw error;
      const legacy = await this.legacy.verify(accessToken, 'access');
      if (!legacy || (await this.stores.revokedTokens.isRevoked(legacy.id))) throw error;
      // Only a user imported under that exact original username: never whoever holds the
      // same name in Gatehouse (the import skips, and reports, such clashes).
      const user = await this.stores.users.findByLegacyUsername(legacy.username);
      if (!user || LegacyTokens.isVoided(legacy, user.legacyTokensVoidBefore)) throw error;
      return {
        userId: user.id,
        user,
        sessionId: '',
        tokenId: legacy.id,
        legacy: true,
        claims: { sub: String(user.id), sid: '', jti: legacy.id, username: user.username, exp: legacy.exp, iat: 0, aud: '', clientId: 'legacy' },
      };
    }
  }

  /** An original-service refresh token buys one Gatehouse session, once. */
  private async exchangeLegacyRefresh(legacy: LegacyTokens, token: string, client?: ClientContext): Promise<TokenPair> {
    const claims = await legacy.verify(token, 'refresh');
    if (!claims) throw invalidRefreshToken();
    const user = await this.stores.users.findByLegacyUsername(claims.username);
    if (!user || LegacyTokens.isVoided(claims, user.legacyTokensVoidBefore)) throw invalidRefreshToken();
    // An original-service token never passed a second factor: it buys no session once there is one.
    if (await this.mfaGate?.hasFactor(user.id)) throw invalidRefreshToken();
    return this.startSession(user, client, DEFAULT_CLIENT, ['pwd'], { legacy_refresh_exchange: true }, async (tx) => {
      // The revoke doubles as the "once": it fails for a blacklisted or already exchanged token.
      if (!(await tx.revokedTokens.revoke(claims.id, this.revocationEnd(claims.exp)))) throw invalidRefreshToken();
    });
  }

  /** The caller, as loaded by this request's revocation check (no second query). */
  currentUser(principal: Principal): User {
    return principal.user;
  }

  /**
   * RFC 7009. An access token is revoked by its jti (the session lives on); a refresh token
   * ends its session. Tokens of other clients, and tokens we do not know, change nothing.
   */
  async revokeToken(token: string, oauthClient: OAuthClient, hint?: 'access_token' | 'refresh_token', client?: ClientContext): Promise<void> {
    const tryAccess = async () => {
      const claims = await this.tokens.inspect(token);
      if (!claims || claims.clientId !== oauthClient.id) return false;
      await this.stores.transaction(async (tx) => {
        await tx.revokedTokens.revoke(claims.jti, this.revocationEnd(claims.exp));
        await this.observer.onEvent({ type: 'token_revoked', userId: Number(claims.sub), client, detail: { kind: 'access_token', client_id: oauthClient.id } }, tx);
      });
      return true;
    };
    const tryRefresh = async () => {
      const session = await this.stores.sessions.findByRefreshHash(hashToken(token));
      if (!session || session.clientId !== oauthClient.id) return false;
      await this.stores.transaction(async (tx) => {
        await tx.sessions.revoke(session.id, this.clock.now(), 'revoked_by_client');
        await this.observer.onEvent({ type: 'token_revoked', userId: session.userId, client, detail: { kind: 'refresh_token', client_id: oauthClient.id, session_id: session.id } }, tx);
      });
      return true;
    };
    // The hint orders the lookups (RFC 7009 §2.1); a wrong hint still finds the token.
    const order = hint === 'refresh_token' || token.startsWith('ghr_') ? [tryRefresh, tryAccess] : [tryAccess, tryRefresh];
    for (const attempt of order) if (await attempt()) return;
  }

  /**
   * RFC 7662: what an active token says; undefined for anything inactive. A resource
   * server learns only about tokens meant for it (RFC 7662 §4): tokens of its own
   * audience, or issued to it; any other token is inactive as far as it is concerned.
   */
  async introspect(token: string, caller: OAuthClient): Promise<Introspection | undefined> {
    const now = this.clock.now();
    if (!token.startsWith('ghr_')) {
      const claims = await this.tokens.inspect(token);
      if (!claims || !mayIntrospect(caller, claims.clientId, claims.aud)) return undefined;
      if (!(await this.tokens.isActive(claims))) return undefined;
      return {
        token_type: 'access_token',
        sub: claims.sub,
        username: claims.username,
        client_id: claims.clientId,
        aud: claims.aud,
        iss: this.issuer,
        exp: claims.exp,
        iat: claims.iat,
        jti: claims.jti,
        sid: claims.sid,
        ...(claims.scope === undefined ? {} : { scope: claims.scope }),
      };
    }
    const session = await this.stores.sessions.findByRefreshHash(hashToken(token));
    if (!session || !mayIntrospect(caller, session.clientId, undefined)) return undefined;
    if (session.revokedAt !== null || session.expiresAt.getTime() <= now.getTime()) return undefined;
    const user = await this.stores.users.findById(session.userId);
    if (!user) return undefined;
    const grant = session.clientId === DEFAULT_CLIENT.id ? undefined : await this.stores.oidc.findGrant(session.id);
    return {
      ...(grant ? { scope: grant.scope.join(' ') } : {}),
      token_type: 'refresh_token',
      sub: String(user.id),
      username: user.username,
      client_id: session.clientId,
      iss: this.issuer,
      exp: Math.floor(session.expiresAt.getTime() / 1000),
      iat: Math.floor((session.rotatedAt ?? session.createdAt).getTime() / 1000),
      sid: session.id,
    };
  }

  /**
   * One transaction: `first` (what the use case writes before, if anything), the new
   * session and the login_succeeded event. The access token is signed after it commits.
   */
  private async startSession(
    user: User,
    client: ClientContext | undefined,
    oauthClient: OAuthClient,
    amr: Amr[],
    detail: Record<string, string | boolean>,
    first?: (tx: TransactionStores) => Promise<void>,
  ): Promise<TokenPair> {
    const now = this.clock.now();
    const refreshToken = newRefreshToken();
    const session = await this.stores.transaction(async (tx) => {
      await first?.(tx);
      const created = await tx.sessions.create({
        id: newId(),
        userId: user.id,
        clientId: oauthClient.id,
        refreshHash: hashToken(refreshToken),
        userAgent: client?.userAgent?.slice(0, 512) ?? null,
        ip: client?.ip ?? null,
        createdAt: now,
        expiresAt: new Date(now.getTime() + this.options.refreshTtlSeconds * 1000),
        amr,
      });
      await this.observer.onEvent({ type: 'login_succeeded', userId: user.id, client, detail }, tx);
      return created;
    });
    return this.tokenPair(await this.tokens.issue(user, session, oauthClient), refreshToken);
  }

  /**
   * How long a revocation must be kept: verification accepts a token until exp plus the
   * clock skew, so a row pruned at exp would let the token work again for the skew.
   */
  private revocationEnd(exp: number): Date {
    return new Date((exp + this.options.clockSkewSeconds) * 1000);
  }

  private get issuer(): string {
    return this.options.issuer;
  }

  private tokenPair(accessToken: string, refreshToken: string): TokenPair {
    return {
      access_token: accessToken,
      refresh_token: refreshToken,
      token_type: 'bearer',
      expires_in: this.tokens.ttlSeconds,
    };
  }
}

/** Is this token the caller's business: issued to it, or for its audience? */
function mayIntrospect(caller: OAuthClient, tokenClientId: string, aud: string | string[] | undefined): boolean {
  if (tokenClientId === caller.id) return true;
  if (caller.audience === null || aud === undefined) return false;
  return typeof aud === 'string' ? aud === caller.audience : aud.includes(caller.audience);
}

function invalidRefreshToken(): AppError {
  return new AppError('invalid_token', 'The refresh token is invalid, expired or revoked');
}
