/** ioredis' (and rate-limiter-flexible's) failures, as the types the rest of Gatehouse knows. */
import { StorageUnavailableError } from '../../errors/unavailable.js';
import { isNetworkFailure, someCause } from '../network-errors.js';

const UNAVAILABLE_MESSAGES = [
  'Connection is closed',
  'Command timed out',
  'Reached the max retries per request limit',
  "Stream isn't writeable",
  // rate-limiter-flexible with rejectIfRedisNotReady
  'Redis connection is not ready',
];

export function translateRedisError(error: unknown): unknown {
  if (error instanceof StorageUnavailableError) return error;
  const away = someCause(error, (e) => isNetworkFailure(e) || e.name === 'MaxRetriesPerRequestError' || UNAVAILABLE_MESSAGES.some((m) => e.message.includes(m)));
  return away ? new StorageUnavailableError('redis', { cause: error }) : error;
}

/** Awaits a Redis call, translating its failure. */
export async function redisCall<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw translateRedisError(error);
  }
}
