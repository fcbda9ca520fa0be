/**
 * Email verification and password reset. Tokens are single-use, expire, and are stored
 * only as hashes; mails go out after the answer (a slow SMTP server never delays it, and
 * `forgot` answers alike, and about as fast, for known and unknown addresses).
 */
import type { PasswordHasher } from '../crypto/password.js';
import { hashToken, newEmailToken } from '../crypto/random.js';
import { checkPassword, emailKey, type PasswordPolicy } from '../domain/identity.js';
import type { User } from '../domain/types.js';
import { AppError, invalidFields } from '../errors/index.js';
import { passwordResetMail, verificationMail } from '../mail/templates.js';
import type { AttemptLimiter, AuthObserver, Clock, Mailer, MailMessage, Stores } from './ports.js';

export interface EmailFlowsOptions {
  publicUrl: string;
  verifyTtlSeconds: number;
  resetTtlSeconds: number;
  policy: PasswordPolicy;
}

type Client = { ip: string; userAgent: string | null } | undefined;

function invalidLink(): AppError {
  return new AppError('validation_failed', 'The link is invalid, already used or expired', {
    errors: [{ field: 'token', message: 'is invalid, already used or expired' }],
  });
}

/** What EmailFlows is built from (composition.ts). */
export interface EmailFlowsDeps {
  stores: Stores;
  hasher: PasswordHasher;
  mailer: Mailer;
  /** Mails per address per window, whatever the client IP. */
  perAddress: AttemptLimiter;
  observer: AuthObserver;
  clock: Clock;
  options: EmailFlowsOptions;
  onDeliveryError: (error: unknown) => void;
}

export class EmailFlows {
  private readonly pending = new Set<Promise<void>>();

  private readonly stores: Stores;
  private readonly hasher: PasswordHasher;
  private readonly mailer: Mailer;
  private readonly perAddress: AttemptLimiter;
  private readonly observer: AuthObserver;
  private readonly clock: Clock;
  private readonly options: EmailFlowsOptions;
  private readonly onDeliveryError: (error: unknown) => void;

  constructor(deps: EmailFlowsDeps) {
    this.stores = deps.stores;
    this.hasher = deps.hasher;
    this.mailer = deps.mailer;
    this.perAddress = deps.perAddress;
    this.observer = deps.observer;
    this.clock = deps.clock;
    this.options = deps.options;
    this.onDeliveryError = deps.onDeliveryError;
  }

  /** Sends a verification link to the user's current address (nothing if already verified). */
  async requestVerification(user: User, client?: Client): Promise<void> {
    if (user.emailVerified) return;
    if (!(await this.withinAddressLimit(user.email))) return;
    const link = await this.issue(user, 'verify_email', this.options.verifyTtlSeconds, '/email/verify');
    this.deliver(verificationMail(user.email, link, this.options.verifyTtlSeconds));
    await this.observer.onEvent({ type: 'email_verification_sent', userId: user.id, client });
  }

  /**
   * For the unauthenticated form of /email/verify/request: returns at once, the lookup and
   * every write happen after the answer, so a known address answers as fast as an unknown one.
   */
  requestVerificationByAddress(address: string, client?: Client): void {
    this.afterAnswer(async () => {
      const user = await this.stores.users.findByLogin(emailKey(address));
      if (user && emailKey(user.email) === emailKey(address)) await this.requestVerification(user, client);
    });
  }

  async verifyEmail(token: string, client?: Client): Promise<void> {
    await this.stores.transaction(async (tx) => {
      const used = await tx.emailTokens.consume(hashToken(token), 'verify_email', this.clock.now());
      if (!used) throw invalidLink();
      // The link proves the address it was sent to, and only while the account still has it.
      if (!(await tx.users.markEmailVerified(used.userId, emailKey(used.email)))) throw invalidLink();
      await this.observer.onEvent({ type: 'email_verified', userId: used.userId, client }, tx);
    });
  }

  /** Returns at once: the lookup, the writes, the limiter and the mail all happen after the answer. */
  requestPasswordReset(address: string, client?: Client): void {
    this.afterAnswer(() => this.sendPasswordReset(address, client));
  }

  private async sendPasswordReset(address: string, client?: Client): Promise<void> {
    const user = await this.stores.users.findByLogin(emailKey(address));
    const known = user !== undefined && emailKey(user.email) === emailKey(address);
    await this.observer.onEvent({ type: 'password_reset_requested', userId: known ? user.id : undefined, client, detail: { known } });
    if (!known || !(await this.withinAddressLimit(user.email))) return;
    // A new link supersedes the older ones.
    await this.stores.emailTokens.invalidateAll(user.id, 'reset_password', this.clock.now());
    const link = await this.issue(user, 'reset_password', this.options.resetTtlSeconds, '/password/reset');
    this.deliver(passwordResetMail(user.email, link, this.options.resetTtlSeconds));
  }

  /** Sets the new password under the same policy and ends every session. */
  async resetPassword(token: string, newPassword: string, client?: Client): Promise<void> {
    const errors = checkPassword(newPassword, this.options.policy, 'new_password');
    if (errors.length > 0) throw invalidFields(errors);
    // Hashed first: nothing waits on argon2 while the transaction is open. (An invalid link
    // costs a hash too, like a login attempt for an unknown user.)
    const passwordHash = await this.hasher.hash(newPassword);
    const now = this.clock.now();
    await this.stores.transaction(async (tx) => {
      const used = await tx.emailTokens.consume(hashToken(token), 'reset_password', now);
      if (!used) throw invalidLink();
      await tx.users.updatePasswordHash(used.userId, passwordHash);
      await tx.sessions.revokeAllForUser(used.userId, now, 'password_reset');
      await tx.users.voidLegacyTokens(used.userId, now);
      await tx.emailTokens.invalidateAll(used.userId, 'reset_password', now);
      await this.observer.onEvent({ type: 'password_reset', userId: used.userId, client }, tx);
    });
  }

  /** Waits for work after answers and mails still being handed to the SMTP server (graceful shutdown, tests). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async issue(user: User, purpose: 'verify_email' | 'reset_password', ttlSeconds: number, path: string): Promise<string> {
    const token = newEmailToken();
    const now = this.clock.now();
    await this.stores.emailTokens.create({
      hash: hashToken(token),
      userId: user.id,
      purpose,
      email: user.email,
      createdAt: now,
      expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
    });
    return `${this.options.publicUrl}${path}?token=${encodeURIComponent(token)}`;
  }

  private async withinAddressLimit(address: string): Promise<boolean> {
    return (await this.perAddress.take(emailKey(address))).ok;
  }

  /**
   * Work for an answer that must not depend on it. setImmediate: it starts once the
   * answer has been handed to the socket. Tracked like mails (drain() waits for it);
   * a failure is logged, the client has its answer already.
   */
  private afterAnswer(work: () => Promise<void>): void {
    const running = new Promise<void>((resolve) => setImmediate(resolve)).then(work).catch(this.onDeliveryError);
    this.pending.add(running);
    void running.finally(() => this.pending.delete(running));
  }

  private deliver(message: MailMessage): void {
    const sending = this.mailer.send(message).catch(this.onDeliveryError);
    this.pending.add(sending);
    void sending.finally(() => this.pending.delete(sending));
  }
}
