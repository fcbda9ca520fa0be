/** Account creation: identity rules, password policy, and a race-free uniqueness check. */
import type { PasswordHasher } from '../crypto/password.js';
import {
  checkConfirmation,
  checkEmail,
  checkPassword,
  checkUsername,
  emailKey,
  normalizeUsername,
  usernameKey,
  type PasswordPolicy,
  type RuleViolation,
} from '../domain/identity.js';
import type { User } from '../domain/types.js';
import { AppError, invalidFields } from '../errors/index.js';
import { DuplicateError, type AuthObserver, type Clock, type Stores } from './ports.js';

/** What RegistrationService is built from (composition.ts). */
export interface RegistrationServiceDeps {
  /** Registration writes the user and its audit event in one transaction. */
  stores: Pick<Stores, 'transaction'>;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  observer: AuthObserver;
  clock: Clock;
}

export class RegistrationService {
  private readonly stores: Pick<Stores, 'transaction'>;
  private readonly hasher: PasswordHasher;
  private readonly policy: PasswordPolicy;
  private readonly observer: AuthObserver;
  private readonly clock: Clock;

  constructor(deps: RegistrationServiceDeps) {
    this.stores = deps.stores;
    this.hasher = deps.hasher;
    this.policy = deps.policy;
    this.observer = deps.observer;
    this.clock = deps.clock;
  }

  async register(input: {
    username: string;
    email: string;
    password: string;
    confirmPassword?: string | undefined;
    client?: { ip: string; userAgent: string | null } | undefined;
  }): Promise<User> {
    const username = normalizeUsername(input.username);
    const email = input.email.normalize('NFKC').trim();
    // In the order of the fields; `detail` carries the first one's sentence.
    const violations: RuleViolation[] = [
      checkUsername(username),
      checkEmail(email),
      ...checkPassword(input.password, this.policy),
      checkConfirmation(input.password, input.confirmPassword),
    ].filter((violation) => violation !== undefined);
    if (violations.length > 0) throw invalidFields(violations);

    const passwordHash = await this.hasher.hash(input.password);
    try {
      // The unique indexes decide races: of two concurrent registrations one insert wins.
      return await this.stores.transaction(async (tx) => {
        const user = await tx.users.create({
          username,
          usernameKey: usernameKey(username),
          email,
          emailKey: emailKey(email),
          passwordHash,
          createdAt: this.clock.now(),
        });
        await this.observer.onEvent({ type: 'registered', userId: user.id, client: input.client }, tx);
        return user;
      });
    } catch (error) {
      if (error instanceof DuplicateError) {
        throw error.field === 'username'
          ? new AppError('username_taken', 'Username already exists')
          : new AppError('email_taken', 'Email already exists');
      }
      throw error;
    }
  }
}
