/**
 * @fastify/rate-limit's Redis store (the per-IP route limits), with its failures translated
 * (StorageUnavailableError when Redis is away) before they reach the error handler.
 */
import { createRequire } from 'node:module';
import type { FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import { translateRedisError } from '../redis/errors.js';

type Callback = (error: unknown, result: unknown) => void;
interface RouteStore {
  incr(key: string, cb: Callback, timeWindow: number, max: number): void;
  read?(key: string, cb: Callback, timeWindow: number, max: number): void;
  child(routeOptions: unknown): RouteStore;
}
type RedisStoreClass = new (continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, key: string) => RouteStore;

const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore') as RedisStoreClass;

const translated =
  (cb: Callback): Callback =>
  (error, result) =>
    cb(error ? translateRedisError(error) : error, result);

class TranslatingStore implements RouteStore {
  constructor(private readonly inner: RouteStore) {}
  incr(key: string, cb: Callback, timeWindow: number, max: number): void {
    this.inner.incr(key, translated(cb), timeWindow, max);
  }
  read(key: string, cb: Callback, timeWindow: number, max: number): void {
    this.inner.read!(key, translated(cb), timeWindow, max);
  }
  child(routeOptions: unknown): RouteStore {
    return new TranslatingStore(this.inner.child(routeOptions));
  }
}

/** The `store` option of @fastify/rate-limit: Redis under `nameSpace`, failures typed. */
export function redisRouteStore(redis: Redis, nameSpace: string): FastifyRateLimitStoreCtor {
  return class {
    constructor(options: { continueExceeding?: boolean; exponentialBackoff?: boolean }) {
      return new TranslatingStore(new RedisStore(options.continueExceeding ?? false, options.exponentialBackoff ?? false, redis, nameSpace));
    }
  } as unknown as FastifyRateLimitStoreCtor;
}
