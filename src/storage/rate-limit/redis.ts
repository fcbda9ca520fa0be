/** Attempt counters in Redis (rate-limiter-flexible's atomic Lua counter), shared by every instance. */
import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { AttemptGrant, AttemptLimiter } from '../../services/ports.js';
import { redisCall } from '../redis/errors.js';
import { takeAttempt } from './take.js';

export class RedisAttemptLimiter implements AttemptLimiter {
  private readonly limiter: RateLimiterRedis;

  constructor(
    redis: Redis,
    private readonly maxAttempts: number,
    windowSeconds: number,
    keyPrefix: string,
  ) {
    // rejectIfRedisNotReady: answer at once while Redis is away instead of waiting on it.
    this.limiter = new RateLimiterRedis({
      storeClient: redis,
      points: maxAttempts,
      duration: windowSeconds,
      keyPrefix,
      rejectIfRedisNotReady: true,
    });
  }

  take(key: string): Promise<AttemptGrant> {
    return redisCall(takeAttempt(this.limiter, this.maxAttempts, key));
  }

  async giveBack(key: string): Promise<void> {
    await redisCall(this.limiter.reward(key, 1));
  }

  async reset(key: string): Promise<void> {
    await redisCall(this.limiter.delete(key));
  }
}
