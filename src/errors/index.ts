/**
 * One catalog of public error codes. The public `detail` is kept apart from any internal
 * cause, which is logged but never serialised.
 */

export const ERRORS = {
  validation_failed: { status: 400, title: 'Invalid request' },
  invalid_credentials: { status: 401, title: 'Invalid credentials' },
  invalid_token: { status: 401, title: 'Invalid token' },
  invalid_client: { status: 401, title: 'Client authentication failed' },
  unauthorized_client: { status: 400, title: 'Grant not allowed for this client' },
  unsupported_grant_type: { status: 400, title: 'Unsupported grant type' },
  missing_token: { status: 401, title: 'Authentication required' },
  invalid_mfa_code: { status: 401, title: 'Invalid second-factor code' },
  invalid_mfa_token: { status: 401, title: 'Invalid mfa_token' },
  // RFC 9470: the session is valid but did not authenticate strongly enough.
  insufficient_user_authentication: { status: 401, title: 'Stronger authentication required' },
  mfa_required: { status: 403, title: 'Second factor required' },
  wrong_password: { status: 403, title: 'Password incorrect' },
  email_not_verified: { status: 403, title: 'Email not verified' },
  csrf_check_failed: { status: 403, title: 'CSRF check failed' },
  forbidden: { status: 403, title: 'Forbidden' },
  insufficient_scope: { status: 403, title: 'Insufficient scope' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  // 400, not 409: the original service's status, which its clients test.
  username_taken: { status: 400, title: 'Username already exists' },
  email_taken: { status: 400, title: 'Email already exists' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  rate_limited: { status: 429, title: 'Too many requests' },
  account_locked: { status: 429, title: 'Too many failed logins' },
  internal_error: { status: 500, title: 'Internal server error' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface FieldError {
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ErrorCode,
    /** Public, human sentence; FastAPI-era clients read `.detail`. */
    readonly detail: string,
    readonly extra: {
      errors?: FieldError[];
      retryAfterSeconds?: number;
      /** RFC 6750 error for WWW-Authenticate on 401. */
      bearerError?: 'invalid_token' | 'invalid_request' | 'insufficient_user_authentication';
      /** Extra members of the problem body (e.g. `mfa_token`, `factors` of mfa_required). */
      members?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    super(detail, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'AppError';
    this.status = ERRORS[code].status;
    this.title = ERRORS[code].title;
  }
}

export const problemType = (code: ErrorCode): string => `urn:gatehouse:problem:${code}`;

/** The credential failure every login path answers alike (unknown user = wrong password). */
export const invalidCredentials = (): AppError =>
  new AppError('invalid_credentials', 'Incorrect username or password');

/**
 * A request whose fields break the identity rules: `detail` is the sentence of the first
 * rule broken (what the original service answered), `errors` lists every one.
 */
export function invalidFields(violations: ReadonlyArray<FieldError & { sentence?: string }>): AppError {
  const errors = violations.map(({ field, message }) => ({ field, message }));
  return new AppError('validation_failed', violations[0]?.sentence ?? 'The request has invalid fields', { errors });
}

export const invalidToken = (detail = 'The access token is invalid, expired or revoked'): AppError =>
  new AppError('invalid_token', detail, { bearerError: 'invalid_token' });

/** RFC 9470 step-up challenge: the caller must log in again with a second factor. */
export const insufficientUserAuthentication = (): AppError =>
  new AppError('insufficient_user_authentication', 'This action needs a session that passed multi-factor authentication; log in again with your second factor', {
    bearerError: 'insufficient_user_authentication',
  });
