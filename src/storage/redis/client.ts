/**
 * The shared Redis connection (rate-limit counters for every instance). Tuned to fail fast:
 * no offline queue and a command timeout, so a Redis outage becomes a quick 503 (or, with
 * RATE_LIMIT_FAIL_OPEN, a skipped limit) instead of requests piling up; reconnection
 * continues in the background and service resumes by itself.
 */
import type { Redis } from 'ioredis';
import { redisCall } from './errors.js';

export type RedisClient = Redis;

export async function connectRedis(url: string, options: { waitMs?: number } = {}): Promise<Redis> {
  // Loaded here, only with REDIS_URL: ioredis costs a server without Redis several MB.
  const { Redis: IORedis } = await import('ioredis');
  const redis = new IORedis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 1_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    lazyConnect: false,
  });
  // Connection errors are reported through the commands that fail; never crash on them.
  redis.on('error', () => undefined);
  const waitMs = options.waitMs ?? 3_000;
  await new Promise<void>((resolve) => {
    if (redis.status === 'ready') return resolve();
    const timer = setTimeout(resolve, waitMs);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return redis;
}

export async function pingRedis(redis: Redis): Promise<void> {
  const answer = await redisCall(redis.ping());
  if (answer !== 'PONG') throw new Error('unexpected PING answer');
}

export async function closeRedis(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
