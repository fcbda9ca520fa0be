/**
 * In-process attempt counters (rate-limiter-flexible). Right for one instance; with
 * several, the Redis implementation of the same port shares the counts.
 */
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { AttemptLimiter } from '../../services/ports.js';

export class MemoryAttemptLimiter implements AttemptLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(
    private readonly maxFailures: number,
    windowSeconds: number,
    keyPrefix: string,
  ) {
    this.limiter = new RateLimiterMemory({ points: maxFailures, duration: windowSeconds, keyPrefix });
  }

  async blockedFor(key: string): Promise<number> {
    const res = await this.limiter.get(key);
    return res && res.consumedPoints >= this.maxFailures ? res.msBeforeNext : 0;
  }

  async fail(key: string): Promise<number> {
    const res = await this.limiter.penalty(key, 1);
    return res.consumedPoints >= this.maxFailures ? res.msBeforeNext : 0;
  }

  async reset(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}
