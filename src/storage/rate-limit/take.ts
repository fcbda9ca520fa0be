/** The atomic "take one attempt" both counter stores share. */
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { AttemptGrant } from '../../services/ports.js';

/**
 * consume() counts and checks in one step (in memory, or one Lua call in Redis). A refused
 * consume has counted too: that point is given back, so refusals never lengthen a lock.
 */
export async function takeAttempt(limiter: RateLimiterAbstract, max: number, key: string): Promise<AttemptGrant> {
  let res: RateLimiterRes;
  try {
    res = await limiter.consume(key, 1);
  } catch (error) {
    if (!(error instanceof RateLimiterRes)) throw error; // the store itself failed
    await limiter.reward(key, 1);
    return { ok: false, retryAfterMs: Math.max(1, error.msBeforeNext) };
  }
  return { ok: true, last: res.consumedPoints >= max };
}
