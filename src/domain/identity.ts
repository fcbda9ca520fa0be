/** Pure rules for usernames, emails and passwords (the contract's "Identities"). */
import type { FieldError } from '../errors/index.js';

/**
 * A broken rule: the field and a short message for the `errors` list, plus the sentence
 * the original FastAPI service answered in `detail` (its clients show it to people).
 */
export interface RuleViolation extends FieldError {
  sentence: string;
}

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

export function checkUsername(normalized: string): RuleViolation | undefined {
  if (!USERNAME.test(normalized)) {
    const rule = 'be 3 to 32 characters of letters, digits, "_", "." or "-"';
    return { field: 'username', message: `must ${rule}`, sentence: `Username must ${rule}` };
  }
  return undefined;
}

export function checkEmail(email: string): RuleViolation | undefined {
  if (email.length > 254 || !EMAIL.test(email)) {
    return { field: 'email', message: 'must be a valid email address of at most 254 characters', sentence: 'Invalid email format' };
  }
  return undefined;
}

/**
 * In the original service's order (length, uppercase, digit), so the first violation's
 * sentence is the one it answered. Counts code points, not UTF-16 units, so an emoji is
 * one character.
 */
export function checkPassword(password: string, policy: PasswordPolicy, field = 'password'): RuleViolation[] {
  const errors: RuleViolation[] = [];
  const broken = (rule: string) => errors.push({ field, message: `must ${rule}`, sentence: `Password must ${rule}` });
  const length = [...password].length;
  if (length < policy.minLength) broken(`be at least ${policy.minLength} characters long`);
  if (length > policy.maxLength) broken(`be at most ${policy.maxLength} characters long`);
  if (policy.requireUppercase && !/\p{Lu}/u.test(password)) broken('contain at least one uppercase letter');
  if (policy.requireLowercase && !/\p{Ll}/u.test(password)) broken('contain at least one lowercase letter');
  if (policy.requireDigit && !/\p{Nd}/u.test(password)) broken('contain at least one digit');
  return errors;
}

/** The confirmation field, when sent, must repeat the password. */
export function checkConfirmation(password: string, confirmation: string | undefined): RuleViolation | undefined {
  if (confirmation === undefined || confirmation === password) return undefined;
  return { field: 'confirm_password', message: 'must match password', sentence: "Passwords don't match" };
}
