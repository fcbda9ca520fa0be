/**
 * RATE_LIMIT_FAIL_OPEN=true: when the counter store is away, count nothing and let the
 * attempt through (availability over brute-force protection). Off by default: then the
 * store's error surfaces and the request answers 503.
 */
import type { AttemptLimiter } from '../../services/ports.js';

export class FailOpenAttemptLimiter implements AttemptLimiter {
  constructor(
    private readonly inner: AttemptLimiter,
    private readonly onError: (error: unknown) => void,
  ) {}

  blockedFor(key: string): Promise<number> {
    return this.inner.blockedFor(key).catch((error: unknown) => (this.onError(error), 0));
  }

  fail(key: string): Promise<number> {
    return this.inner.fail(key).catch((error: unknown) => (this.onError(error), 0));
  }

  reset(key: string): Promise<void> {
    return this.inner.reset(key).catch((error: unknown) => this.onError(error));
  }
}
