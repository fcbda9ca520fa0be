/** Request and response schemas of the original five endpoints. */
import { Type } from 'typebox';

// Coarse upper bounds here (they keep a 10 000-character username out of every code path);
// the exact identity rules run after NFKC normalisation in domain/identity.ts, whose
// violations carry the original service's sentences (so no lower bounds here either).
const username = Type.String({ maxLength: 64, description: '3–32 letters, digits, "_", "." or "-" (NFKC-normalised, case-insensitive)' });
// Only a bound against abuse: a malformed address gets the rule's own sentence (domain/identity.ts).
const email = Type.String({ maxLength: 320, description: 'Unique case-insensitively; at most 254 characters' });
const password = Type.String({ maxLength: 4096, description: 'By default 8–1024 characters with an uppercase letter and a digit' });
// Room for an access token sent here by mistake (it carries amr and auth_time): that is a 401, not a 400.
const refreshToken = Type.String({ minLength: 1, maxLength: 4096 });

export const RegisterBody = Type.Object(
  { username, email, password, confirm_password: Type.Optional(password) },
  { additionalProperties: false },
);

/** Also the OAuth2 password-flow form that Swagger UI's Authorize dialog posts. */
export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 254, description: 'Username or email' }),
    password: Type.String({ minLength: 1, maxLength: 4096 }),
    grant_type: Type.Optional(Type.Literal('password')),
    scope: Type.Optional(Type.String({ maxLength: 1024 })),
    client_id: Type.Optional(Type.String({ maxLength: 255 })),
    client_secret: Type.Optional(Type.String({ maxLength: 1024 })),
    device_token: Type.Optional(
      Type.String({ maxLength: 256, description: 'The device token of an earlier login of this account (or the `gatehouse_device` cookie)' }),
    ),
  },
  { additionalProperties: false },
);

/** `grant_type=refresh_token` too, as OAuth2 clients (Swagger UI's refreshUrl) send it. */
export const RefreshBody = Type.Object(
  { refresh_token: refreshToken, grant_type: Type.Optional(Type.Literal('refresh_token')) },
  { additionalProperties: false },
);
export const RefreshQuery = Type.Object(
  { refresh_token: Type.Optional(Type.String({ maxLength: 4096, deprecated: true, description: 'Deprecated: send it in the body' })) },
  { additionalProperties: false },
);

export const LogoutBody = Type.Object({ refresh_token: Type.Optional(refreshToken) }, { additionalProperties: false });

export const UserOut = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String(),
    email: Type.String(),
    email_verified: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'User' },
);

export const TokenResponse = Type.Object(
  {
    access_token: Type.String(),
    refresh_token: Type.String(),
    token_type: Type.Literal('bearer'),
    expires_in: Type.Integer({ description: 'Access-token lifetime in seconds' }),
  },
  { title: 'TokenResponse' },
);

/** Cookie mode (REFRESH_TOKEN_COOKIE=true): the refresh token may be in the cookie instead of the body. */
export const TokenResponseCookieMode = Type.Object(
  {
    access_token: Type.String(),
    refresh_token: Type.Optional(
      Type.String({ description: 'Absent when the request sent X-Gatehouse-CSRF: 1: the token is in the HttpOnly gatehouse_refresh cookie' }),
    ),
    token_type: Type.Literal('bearer'),
    expires_in: Type.Integer({ description: 'Access-token lifetime in seconds' }),
  },
  { title: 'TokenResponseCookieMode' },
);

export const CookieModeHeaders = Type.Object({
  'x-gatehouse-csrf': Type.Optional(
    Type.Literal('1', { description: 'Cookie mode: put the refresh token in (and on /refresh, read it from) the HttpOnly cookie' }),
  ),
});
export const DEVICE_TOKEN_DESCRIPTION =
  'Present it at the next login of this account (body field `device_token`, or the `gatehouse_device` HttpOnly cookie, set too): ' +
  'that login is then counted against this device alone, so failures from elsewhere never lock this device out.';

/** A password login's answer: the token response and a device token. */
export const LoginResponse = Type.Object(
  {
    access_token: Type.String(),
    refresh_token: Type.String(),
    token_type: Type.Literal('bearer'),
    expires_in: Type.Integer({ description: 'Access-token lifetime in seconds' }),
    device_token: Type.String({ description: DEVICE_TOKEN_DESCRIPTION }),
  },
  { title: 'LoginResponse' },
);

/** A password login's answer in cookie mode: the refresh token may be in the cookie instead. */
export const LoginResponseCookieMode = Type.Object(
  { ...TokenResponseCookieMode.properties, device_token: Type.String({ description: DEVICE_TOKEN_DESCRIPTION }) },
  { title: 'LoginResponseCookieMode' },
);
