/** RFC 6749 / 7009 / 7662 / 8414 request and response shapes. */
import { Type } from 'typebox';

const clientFields = {
  client_id: Type.Optional(Type.String({ maxLength: 255, description: 'client_secret_post, or a public client naming itself' })),
  client_secret: Type.Optional(Type.String({ maxLength: 1024 })),
};

// RFC 6749 §3.2: unrecognised parameters are ignored, not refused (unlike our JSON API).
export const TokenRequest = Type.Object(
  {
    grant_type: Type.Optional(
      Type.String({ maxLength: 64, description: '`password`, `refresh_token`, or `urn:gatehouse:params:oauth:grant-type:mfa-otp` (the second step after `mfa_required`)' }),
    ),
    mfa_token: Type.Optional(Type.String({ maxLength: 200, description: 'mfa-otp grant: from the `mfa_required` error' })),
    otp: Type.Optional(Type.String({ maxLength: 16, description: 'mfa-otp grant: the current TOTP code' })),
    recovery_code: Type.Optional(Type.String({ maxLength: 64, description: 'mfa-otp grant: a recovery code instead of otp' })),
    username: Type.Optional(Type.String({ maxLength: 254 })),
    password: Type.Optional(Type.String({ maxLength: 4096 })),
    refresh_token: Type.Optional(Type.String({ maxLength: 512 })),
    device_token: Type.Optional(Type.String({ maxLength: 256, description: 'password grant: the device token of an earlier login of this account' })),
    scope: Type.Optional(Type.String({ maxLength: 1024 })),
    code: Type.Optional(Type.String({ maxLength: 512, description: 'authorization_code grant' })),
    redirect_uri: Type.Optional(Type.String({ maxLength: 2048, description: 'authorization_code grant: as in the authorization request' })),
    code_verifier: Type.Optional(Type.String({ maxLength: 256, description: 'authorization_code grant: the PKCE verifier' })),
    ...clientFields,
  },
  { additionalProperties: true },
);

export const OAuthTokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer(),
  refresh_token: Type.Optional(Type.String({ description: 'Always for password and refresh_token; for authorization_code only with offline_access' })),
  id_token: Type.Optional(Type.String({ description: 'authorization_code with the openid scope' })),
  scope: Type.Optional(Type.String({ description: 'Granted scopes (OpenID Connect clients)' })),
  device_token: Type.Optional(Type.String({ description: 'password grant only: present it at the next login of this account (see /login)' })),
});

export const OAuthError = Type.Object(
  {
    error: Type.String({ description: 'RFC 6749 §5.2 code: invalid_request, invalid_client, invalid_grant, unauthorized_client, unsupported_grant_type, ...' }),
    error_description: Type.Optional(Type.String()),
    mfa_token: Type.Optional(Type.String({ description: 'With `mfa_required` (403): continue with the mfa-otp grant' })),
  },
  { $id: 'OAuthError', description: 'RFC 6749 §5.2 error response' },
);

export const oauthErrorRef = Type.Unsafe<Record<string, unknown>>(Type.Ref('OAuthError'));

const OAUTH_STATUS_TEXT: Record<number, string> = {
  400: 'invalid_request, invalid_grant, unauthorized_client or unsupported_grant_type',
  401: 'invalid_client (with WWW-Authenticate: Basic)',
  403: 'mfa_required, with mfa_token: the password was right; send the second factor with the mfa-otp grant',
  429: 'Rate limited (temporarily_unavailable) or account locked (invalid_grant), with Retry-After',
  503: 'A dependency is unavailable (temporarily_unavailable)',
};

/** RFC 6749 §5.2 error responses a route documents, by status. */
export function oauthErrors(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: OAUTH_STATUS_TEXT[s] ?? 'OAuth error', content: { 'application/json': { schema: oauthErrorRef } } }]),
  );
}

export const TokenOnlyRequest = Type.Object(
  {
    token: Type.Optional(Type.String({ maxLength: 4096 })),
    token_type_hint: Type.Optional(Type.String({ maxLength: 64 })),
    ...clientFields,
  },
  { additionalProperties: true },
);

export const IntrospectionResponse = Type.Object({
  active: Type.Boolean(),
  token_type: Type.Optional(Type.String()),
  sub: Type.Optional(Type.String()),
  username: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
  iss: Type.Optional(Type.String()),
  exp: Type.Optional(Type.Integer()),
  iat: Type.Optional(Type.Integer()),
  jti: Type.Optional(Type.String()),
  sid: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String()),
});

export const ServerMetadata = Type.Object({
  issuer: Type.String(),
  authorization_endpoint: Type.Optional(Type.String()),
  code_challenge_methods_supported: Type.Optional(Type.Array(Type.String())),
  response_modes_supported: Type.Optional(Type.Array(Type.String())),
  scopes_supported: Type.Optional(Type.Array(Type.String())),
  authorization_response_iss_parameter_supported: Type.Optional(Type.Boolean()),
  token_endpoint: Type.String(),
  revocation_endpoint: Type.String(),
  introspection_endpoint: Type.String(),
  jwks_uri: Type.Optional(Type.String()),
  registration_endpoint: Type.Optional(Type.String()),
  grant_types_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String()),
  token_endpoint_auth_methods_supported: Type.Array(Type.String()),
  revocation_endpoint_auth_methods_supported: Type.Array(Type.String()),
  introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
  token_endpoint_auth_signing_alg_values_supported: Type.Optional(Type.Array(Type.String())),
  service_documentation: Type.String(),
});
