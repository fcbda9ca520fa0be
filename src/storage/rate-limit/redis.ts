/** Attempt counters in Redis (rate-limiter-flexible's atomic Lua counter), shared by every instance. */
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { AttemptLimiter } from '../../services/ports.js';
import { redisCall } from '../redis/errors.js';

export class RedisAttemptLimiter implements AttemptLimiter {
  private readonly limiter: RateLimiterRedis;

  constructor(
    redis: Redis,
    private readonly maxFailures: number,
    windowSeconds: number,
    keyPrefix: string,
  ) {
    // rejectIfRedisNotReady: answer at once while Redis is away instead of waiting on it.
    this.limiter = new RateLimiterRedis({
      storeClient: redis,
      points: maxFailures,
      duration: windowSeconds,
      keyPrefix,
      rejectIfRedisNotReady: true,
    });
  }

  async blockedFor(key: string): Promise<number> {
    const res = await redisCall(this.limiter.get(key));
    return res && res.consumedPoints >= this.maxFailures ? res.msBeforeNext : 0;
  }

  async fail(key: string): Promise<number> {
    const res = await redisCall(this.limiter.penalty(key, 1));
    return res instanceof RateLimiterRes && res.consumedPoints >= this.maxFailures ? res.msBeforeNext : 0;
  }

  async reset(key: string): Promise<void> {
    await redisCall(this.limiter.delete(key));
  }
}
