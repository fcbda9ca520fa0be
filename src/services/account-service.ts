/**
 * What a signed-in user does with their own account: see and end sessions, change the
 * password, delete the account. Re-entering the password is throttled like a login, so a
 * stolen access token cannot be used to guess it.
 */
import type { PasswordHasher } from '../crypto/password.js';
import { checkPassword, type PasswordPolicy } from '../domain/identity.js';
import type { Principal, Session } from '../domain/types.js';
import { AppError, invalidFields, invalidToken } from '../errors/index.js';
import type { ClientContext } from './auth-service.js';
import { accountThrottleKey, type LoginThrottle } from './login-throttle.js';
import { assertStepUp } from './step-up.js';
import type { AuthObserver, Clock, Stores } from './ports.js';

/** What AccountService is built from (composition.ts). */
export interface AccountServiceDeps {
  stores: Stores;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  policy: PasswordPolicy;
  observer: AuthObserver;
  clock: Clock;
}

export class AccountService {
  private readonly stores: Stores;
  private readonly hasher: PasswordHasher;
  private readonly throttle: LoginThrottle;
  private readonly policy: PasswordPolicy;
  private readonly observer: AuthObserver;
  private readonly clock: Clock;

  constructor(deps: AccountServiceDeps) {
    this.stores = deps.stores;
    this.hasher = deps.hasher;
    this.throttle = deps.throttle;
    this.policy = deps.policy;
    this.observer = deps.observer;
    this.clock = deps.clock;
  }

  /** Live sessions, each with the clients it signed in to through OpenID Connect (browser sign-ins). */
  async listSessions(principal: Principal): Promise<Array<Session & { signedInClients: string[] }>> {
    const sessions = await this.stores.sessions.listActive(principal.userId, this.clock.now());
    const clients = await this.stores.oidc.clientsOf(sessions.map((s) => s.id));
    return sessions.map((s) => ({ ...s, signedInClients: (clients.get(s.id) ?? []).filter((c) => c !== s.clientId) }));
  }

  /** Another user's session id answers exactly like an unknown one: 404. */
  async revokeSession(principal: Principal, sessionId: string, client?: ClientContext): Promise<void> {
    await this.stores.transaction(async (tx) => {
      const now = this.clock.now();
      const revoked = await tx.sessions.revokeOwned(sessionId, principal.userId, now, 'revoked_by_user');
      if (!revoked) throw new AppError('not_found', 'No such session');
      // A browser sign-in takes the client sessions it signed in with it.
      await tx.oidc.endSsoSession(sessionId, now, 'revoked_by_user');
      await this.observer.onEvent({ type: 'session_revoked', userId: principal.userId, client, detail: { session_id: sessionId } }, tx);
    });
  }

  async logoutAll(principal: Principal, client?: ClientContext): Promise<number> {
    return this.stores.transaction(async (tx) => {
      const now = this.clock.now();
      const revoked = await tx.sessions.revokeAllForUser(principal.userId, now, 'logout_all');
      // The original service's tokens too (transition mode): they have no session to revoke.
      await tx.users.voidLegacyTokens(principal.userId, now);
      await this.observer.onEvent({ type: 'logout_all', userId: principal.userId, client, detail: { sessions: revoked } }, tx);
      return revoked;
    });
  }

  /** Every other session ends; the caller's keeps working. */
  async changePassword(principal: Principal, input: { currentPassword: string; newPassword: string }, client: ClientContext): Promise<void> {
    const errors = checkPassword(input.newPassword, this.policy, 'new_password');
    if (errors.length > 0) throw invalidFields(errors);
    await assertStepUp(this.stores.mfa, principal);
    const user = await this.confirmPassword(principal, input.currentPassword, client);
    const passwordHash = await this.hasher.hash(input.newPassword);
    await this.stores.transaction(async (tx) => {
      const now = this.clock.now();
      await tx.users.updatePasswordHash(user.id, passwordHash);
      await tx.sessions.revokeAllForUser(user.id, now, 'password_changed', principal.sessionId);
      await tx.users.voidLegacyTokens(user.id, now);
      await this.observer.onEvent({ type: 'password_changed', userId: user.id, client }, tx);
    });
  }

  /** Removes the user and every session; the username and email become free again. */
  async deleteAccount(principal: Principal, password: string, client: ClientContext): Promise<void> {
    await assertStepUp(this.stores.mfa, principal);
    const user = await this.confirmPassword(principal, password, client);
    await this.stores.transaction(async (tx) => {
      await tx.users.delete(user.id);
      await this.observer.onEvent({ type: 'account_deleted', userId: user.id, client }, tx);
    });
  }

  /** Re-entered password of the signed-in user, throttled like a login. */
  async confirmPassword(principal: Principal, password: string, client: ClientContext) {
    const user = await this.stores.users.findById(principal.userId);
    if (!user) throw invalidToken();
    // Counted as a login from an unknown device: a stolen access token buys no guesses.
    const attempt = await this.throttle.begin({ account: accountThrottleKey(user.id, ''), ipKey: client.ipKey });
    const result = await this.hasher.verify(user.passwordHash, password);
    if (!result.ok) {
      await this.observer.onEvent({ type: 'login_failed', userId: user.id, client, detail: { reason: 'wrong_password_reentered' } });
      if (attempt.locksOnFailure) await this.observer.onEvent({ type: 'lockout', userId: user.id, client });
      throw new AppError('wrong_password', 'The password is incorrect');
    }
    await attempt.succeeded();
    return user;
  }
}
