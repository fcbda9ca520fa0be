/**
 * RATE_LIMIT_FAIL_OPEN=true: when the counter store is away, count nothing and let the
 * attempt through (availability over brute-force protection). Off by default: then the
 * store's error surfaces and the request answers 503.
 */
import type { AttemptGrant, AttemptLimiter } from '../../services/ports.js';

export class FailOpenAttemptLimiter implements AttemptLimiter {
  constructor(
    private readonly inner: AttemptLimiter,
    private readonly onError: (error: unknown) => void,
  ) {}

  take(key: string): Promise<AttemptGrant> {
    return this.inner.take(key).catch((error: unknown): AttemptGrant => (this.onError(error), { ok: true, last: false }));
  }

  giveBack(key: string): Promise<void> {
    return this.inner.giveBack(key).catch((error: unknown) => this.onError(error));
  }

  reset(key: string): Promise<void> {
    return this.inner.reset(key).catch((error: unknown) => this.onError(error));
  }
}
