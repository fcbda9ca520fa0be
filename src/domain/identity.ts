/** Pure rules for usernames, emails and passwords (the contract's "Identities"). */
import type { FieldError } from '../errors/index.js';

const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;
// Deliberately simple (WHATWG's input[type=email] shape): one @, a dotted domain, no spaces.
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
  requireUppercase: boolean;
  requireLowercase: boolean;
  requireDigit: boolean;
}

export function normalizeUsername(input: string): string {
  return input.normalize('NFKC');
}

/** The key uniqueness is enforced on: `Alice` and `alice` are one account. */
export function usernameKey(normalized: string): string {
  return normalized.toLowerCase();
}

export function emailKey(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}

/** Key for a login identifier, which may be a username or an email. */
export function loginKey(identifier: string): string {
  return identifier.normalize('NFKC').trim().toLowerCase();
}

export function checkUsername(normalized: string): FieldError | undefined {
  if (!USERNAME.test(normalized)) {
    return {
      field: 'username',
      message: 'must be 3 to 32 characters of letters, digits, "_", "." or "-"',
    };
  }
  return undefined;
}

export function checkEmail(email: string): FieldError | undefined {
  if (email.length > 254 || !EMAIL.test(email)) {
    return { field: 'email', message: 'must be a valid email address of at most 254 characters' };
  }
  return undefined;
}

/** Counts code points, not UTF-16 units, so an emoji is one character. */
export function checkPassword(password: string, policy: PasswordPolicy, field = 'password'): FieldError[] {
  const errors: FieldError[] = [];
  const length = [...password].length;
  if (length < policy.minLength) errors.push({ field, message: `must be at least ${policy.minLength} characters` });
  if (length > policy.maxLength) errors.push({ field, message: `must be at most ${policy.maxLength} characters` });
  if (policy.requireUppercase && !/\p{Lu}/u.test(password)) {
    errors.push({ field, message: 'must contain at least one uppercase letter' });
  }
  if (policy.requireLowercase && !/\p{Ll}/u.test(password)) {
    errors.push({ field, message: 'must contain at least one lowercase letter' });
  }
  if (policy.requireDigit && !/\p{Nd}/u.test(password)) {
    errors.push({ field, message: 'must contain at least one digit' });
  }
  return errors;
}
