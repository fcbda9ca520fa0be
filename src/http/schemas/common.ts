/** Shared response schemas: one source for validation, serialization and OpenAPI. */
import { Type } from 'typebox';

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URN naming the problem, stable for clients to switch on' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String({ description: 'A human sentence (FastAPI clients read `.detail`)' }),
    code: Type.String({ description: 'Stable error code, e.g. invalid_credentials' }),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), {
        description: 'Present on validation failures',
      }),
    ),
    mfa_token: Type.Optional(
      Type.String({ description: 'With `mfa_required` (403): single use, 5 minutes; send it with the second factor to POST /login/mfa or POST /webauthn/login' }),
    ),
    factors: Type.Optional(
      Type.Array(Type.String(), { description: 'With `mfa_required`: the second factors the user has, e.g. ["totp","recovery_code"]' }),
    ),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' },
);


export const problemRef = Type.Unsafe<Record<string, unknown>>(Type.Ref('Problem'));

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request: malformed body, unknown or invalid fields (see `errors`), or a taken username or email',
  401: 'Missing, invalid, expired or revoked credentials (with WWW-Authenticate)',
  403: 'Forbidden (see `code`)',
  404: 'Not found',
  413: 'The body is larger than BODY_LIMIT_BYTES',
  415: 'Only application/json and application/x-www-form-urlencoded are accepted',
  429: 'Rate limited or account locked (with Retry-After)',
  503: 'A dependency is unavailable',
};

/** Problem responses a route documents, by status, as application/problem+json. */
export function problems(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, problem(STATUS_TEXT[s] ?? 'Problem')]));
}

/** One problem response with a description of its own (what this route means by the status). */
export function problem(description: string) {
  return { description, content: { 'application/problem+json': { schema: problemRef } } };
}

/** POST /login's 403: the password was right, and something is still due. */
export const LOGIN_FORBIDDEN = problem(
  '`mfa_required`: the password was right and the user has a second factor; `mfa_token` (single use, 5 minutes) and `factors` say how to finish: POST /login/mfa (`code` or `recovery_code`) or POST /webauthn/login. ' +
    'Or `email_not_verified`, with REQUIRE_VERIFIED_EMAIL=true',
);
