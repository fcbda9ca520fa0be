/**
 * Per-account brute-force protection, on top of the per-IP route limits.
 *
 * Two counters per login key: (account, client IP) with a tight limit, and the account
 * across all IPs with a looser one. An attacker on one address is stopped early without
 * locking the owner out elsewhere; a distributed attack still hits the account ceiling,
 * and that lock is temporary. The key is the identifier as typed (normalised), so an
 * unknown username is throttled exactly like a real one and reveals nothing.
 */
import { AppError } from '../errors/index.js';
import type { AttemptLimiter } from './ports.js';

export class LoginThrottle {
  constructor(
    private readonly perAccountIp: AttemptLimiter,
    private readonly perAccount: AttemptLimiter,
  ) {}

  async assertAllowed(accountKey: string, ipKey: string): Promise<void> {
    const [pair, account] = await Promise.all([
      this.perAccountIp.blockedFor(`${accountKey}|${ipKey}`),
      this.perAccount.blockedFor(accountKey),
    ]);
    const waitMs = Math.max(pair, account);
    if (waitMs > 0) throw locked(waitMs);
  }

  /** Returns true when this failure locked the account (for the audit trail/metrics). */
  async recordFailure(accountKey: string, ipKey: string): Promise<boolean> {
    const [pair, account] = await Promise.all([
      this.perAccountIp.fail(`${accountKey}|${ipKey}`),
      this.perAccount.fail(accountKey),
    ]);
    return pair > 0 || account > 0;
  }

  async recordSuccess(accountKey: string, ipKey: string): Promise<void> {
    await Promise.all([this.perAccountIp.reset(`${accountKey}|${ipKey}`), this.perAccount.reset(accountKey)]);
  }
}

function locked(waitMs: number): AppError {
  return new AppError('account_locked', 'Too many failed login attempts for this account; try again later', {
    retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
  });
}
