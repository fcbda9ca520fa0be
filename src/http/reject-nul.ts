/**
 * No field of Gatehouse's API may hold a NUL character. PostgreSQL refuses one in text
 * ("invalid byte sequence for encoding UTF8: 0x00") where SQLite stores it, so without
 * this check the same request was a 500 on one database and a lookup on the other. Every
 * string of the body, the path parameters and the query is checked before validation.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppError } from '../errors/index.js';

// Loops rather than Object.entries()/some(): this runs on every request, most of which
// carry no input at all (GET /healthz, GET /me), and should allocate nothing for them.
export function holdsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 32 || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (const item of value) if (holdsNul(item, depth + 1)) return true;
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    if (key.includes('\u0000') || holdsNul(record[key], depth + 1)) return true;
  }
  return false;
}

/**
 * preValidation hook: 400 validation_failed for a NUL anywhere in the input. A callback
 * hook, as every hook that runs on every request (app.ts): an async one costs a promise
 * and a microtask per request.
 */
export function rejectNul(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  if (holdsNul(request.params) || holdsNul(request.query) || holdsNul(request.body)) {
    done(
      new AppError('validation_failed', 'The request holds a NUL character, which no field accepts', {
        errors: [{ field: 'request', message: 'must not contain NUL characters' }],
      }),
    );
    return;
  }
  done();
}
