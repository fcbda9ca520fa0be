/**
 * No field of Gatehouse's API may hold a NUL character. PostgreSQL refuses one in text
 * ("invalid byte sequence for encoding UTF8: 0x00") where SQLite stores it, so without
 * this check the same request was a 500 on one database and a lookup on the other. Every
 * string of the body, the path parameters and the query is checked before validation.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors/index.js';

function holdsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 32 || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((item) => holdsNul(item, depth + 1));
  return Object.entries(value).some(([key, item]) => key.includes('\u0000') || holdsNul(item, depth + 1));
}

/** preValidation hook: 400 validation_failed for a NUL anywhere in the input. */
export async function rejectNul(request: FastifyRequest): Promise<void> {
  if (holdsNul(request.params) || holdsNul(request.query) || holdsNul(request.body)) {
    throw new AppError('validation_failed', 'The request holds a NUL character, which no field accepts', {
      errors: [{ field: 'request', message: 'must not contain NUL characters' }],
    });
  }
}
