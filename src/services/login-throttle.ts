/**
 * Per-account brute-force protection, on top of the per-IP route limits.
 *
 * A login from an unknown device takes one attempt from two budgets: (account, client IP)
 * with a tight limit, and the account across all IPs with a looser one. An attacker on
 * one address is stopped early; a distributed attack still hits the account ceiling, and
 * that lock is temporary. A login that presents a valid device token for the account
 * (OWASP "device cookies") takes from that device's budget only: failures from elsewhere
 * can lock the account for unknown devices, never for a device that has logged in before.
 *
 * The attempt is taken *before* the password is checked, atomically, and given back when
 * the password was right: checks in flight cannot all pass a limit that none of them has
 * counted yet.
 */
import { AppError } from '../errors/index.js';
import type { AttemptLimiter } from './ports.js';

/** Whose budgets an attempt takes from, apart from the client address. */
export interface ThrottleSubject {
  /** One key per account however it was named (see accountThrottleKey). */
  account: string;
  /** Set when the login presented a valid device token for this account. */
  deviceId?: string | undefined;
}

export interface LoginSubject extends ThrottleSubject {
  ipKey: string;
}

/** The account key: the user id when the account exists, else the identifier as typed. */
export function accountThrottleKey(userId: number | undefined, typedKey: string): string {
  return userId === undefined ? `name:${typedKey}` : `user:${userId}`;
}

export interface LoginAttempt {
  /** The failure of this attempt locks a counter (for the audit trail and metrics). */
  readonly locksOnFailure: boolean;
  /** The login stands: the attempt does not count, and this device's or address's count is cleared. */
  succeeded(): Promise<void>;
  /**
   * The password was right but a second factor is still due: the attempt does not count,
   * and nothing is cleared (the second step's wrong codes keep counting).
   */
  givenBack(): Promise<void>;
}

export class LoginThrottle {
  constructor(
    private readonly perAccountIp: AttemptLimiter,
    private readonly perAccount: AttemptLimiter,
    private readonly perDevice: AttemptLimiter,
  ) {}

  /** Takes the attempt, or throws account_locked (nothing taken) when a budget is spent. */
  async begin(subject: LoginSubject): Promise<LoginAttempt> {
    const counters: Array<[AttemptLimiter, string]> = subject.deviceId
      ? [[this.perDevice, subject.deviceId]]
      : [
          [this.perAccountIp, `${subject.account}|${subject.ipKey}`],
          [this.perAccount, subject.account],
        ];
    const grants = await Promise.all(counters.map(([limiter, key]) => limiter.take(key)));
    const refusedFor = grants.reduce((ms, g) => (g.ok ? ms : Math.max(ms, g.retryAfterMs)), 0);
    if (refusedFor > 0) {
      await Promise.all(counters.filter((_, i) => grants[i]!.ok).map(([limiter, key]) => limiter.giveBack(key)));
      throw locked(refusedFor);
    }
    // The first counter is this device's or this address's: the owner proved the password there.
    const [own, ...others] = counters as [[AttemptLimiter, string], ...Array<[AttemptLimiter, string]>];
    return {
      locksOnFailure: grants.some((g) => g.ok && g.last),
      succeeded: async () => {
        await Promise.all([own[0].reset(own[1]), ...others.map(([limiter, key]) => limiter.giveBack(key))]);
      },
      givenBack: async () => {
        await Promise.all(counters.map(([limiter, key]) => limiter.giveBack(key)));
      },
    };
  }
}

function locked(waitMs: number): AppError {
  return new AppError('account_locked', 'Too many failed login attempts for this account; try again later', {
    retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
  });
}
