/**
 * In-process attempt counters (rate-limiter-flexible). Right for one instance; with
 * several, the Redis implementation of the same port shares the counts.
 */
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { AttemptGrant, AttemptLimiter } from '../../services/ports.js';
import { takeAttempt } from './take.js';

export class MemoryAttemptLimiter implements AttemptLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(
    private readonly maxAttempts: number,
    windowSeconds: number,
    keyPrefix: string,
  ) {
    this.limiter = new RateLimiterMemory({ points: maxAttempts, duration: windowSeconds, keyPrefix });
  }

  take(key: string): Promise<AttemptGrant> {
    return takeAttempt(this.limiter, this.maxAttempts, key);
  }

  async giveBack(key: string): Promise<void> {
    await this.limiter.reward(key, 1);
  }

  async reset(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}
