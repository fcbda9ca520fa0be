/** OpenID Connect request and response shapes (Core, Discovery, RP-Initiated Logout). */
import { Type } from 'typebox';

const param = (description?: string) => Type.Optional(Type.String({ maxLength: 4096, ...(description ? { description } : {}) }));

// RFC 6749 §3.1: unknown authorization parameters are ignored, not refused.
export const AuthorizationQuery = Type.Object(
  {
    response_type: param('`code` (the only one supported)'),
    client_id: param(),
    redirect_uri: param('Must equal a registered redirect URI exactly'),
    scope: param('openid profile email offline_access (those the client is registered for)'),
    state: param(),
    nonce: param(),
    code_challenge: param('base64url(SHA-256(code_verifier)), 43 characters'),
    code_challenge_method: param('`S256` (required)'),
    response_mode: param('`query` (default) or `form_post`'),
    prompt: param('`none`, `login`, `consent`'),
    max_age: param('Seconds since the last sign-in after which the user signs in again'),
    login_hint: param('Prefills the username field'),
    acr_values: param('Any value: the id token then carries `acr`'),
  },
  { additionalProperties: true },
);

/** Fields of the hosted pages' forms. */
export const PageForm = Type.Object(
  {
    csrf_token: param('Equal to the CSRF cookie'),
    authorize: param('The authorization request being answered, as a query string'),
    username: Type.Optional(Type.String({ maxLength: 254 })),
    password: Type.Optional(Type.String({ maxLength: 4096 })),
    code: Type.Optional(Type.String({ maxLength: 64, description: 'The second factor (second page)' })),
    mfa_token: Type.Optional(Type.String({ maxLength: 256, description: 'The second page\'s challenge' })),
    decision: Type.Optional(Type.String({ maxLength: 16, description: '`allow` or `deny` (consent)' })),
    factors: Type.Optional(Type.String({ maxLength: 128, description: 'The user\'s factors, space-separated (second page; only decides which ways it offers)' })),
  },
  { additionalProperties: false },
);

/** The passkey form of the sign-in pages (filled in and submitted by /signin/passkey.js). */
export const PasskeyForm = Type.Object(
  {
    csrf_token: param('Equal to the CSRF cookie'),
    authorize: param('The authorization request being answered, as a query string'),
    mfa_token: Type.Optional(Type.String({ maxLength: 256, description: 'On the second page: the passkey is the second step after the password' })),
    factors: Type.Optional(Type.String({ maxLength: 128 })),
    response: Type.Optional(
      Type.String({ maxLength: 32_768, description: 'The browser\'s AuthenticationResponseJSON, as a JSON string (a form field)' }),
    ),
  },
  { additionalProperties: false },
);

/** What the passkey script sends for its WebAuthn options (JSON). */
export const PasskeyOptionsRequest = Type.Object(
  {
    csrf_token: Type.String({ maxLength: 64, description: 'The page\'s CSRF token (equal to the CSRF cookie)' }),
    mfa_token: Type.Optional(Type.String({ maxLength: 256, description: 'On the second page: options for this user\'s passkeys' })),
  },
  { additionalProperties: false },
);

export const EndSessionParams = Type.Object(
  {
    id_token_hint: param('An id token Gatehouse issued (it may have expired)'),
    post_logout_redirect_uri: param('Must equal one registered for the client'),
    client_id: param(),
    state: param(),
    ui_locales: param(),
    logout_hint: param(),
    csrf_token: param(),
  },
  { additionalProperties: true },
);

export const UserinfoResponse = Type.Object({
  sub: Type.String(),
  preferred_username: Type.Optional(Type.String()),
  email: Type.Optional(Type.String()),
  email_verified: Type.Optional(Type.Boolean()),
});

export const OpenIdConfiguration = Type.Object({
  issuer: Type.String(),
  authorization_endpoint: Type.String(),
  token_endpoint: Type.String(),
  userinfo_endpoint: Type.String(),
  jwks_uri: Type.String(),
  end_session_endpoint: Type.String(),
  revocation_endpoint: Type.String(),
  introspection_endpoint: Type.String(),
  revocation_endpoint_auth_methods_supported: Type.Array(Type.String()),
  introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
  scopes_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String()),
  response_modes_supported: Type.Array(Type.String()),
  grant_types_supported: Type.Array(Type.String()),
  subject_types_supported: Type.Array(Type.String()),
  id_token_signing_alg_values_supported: Type.Array(Type.String()),
  token_endpoint_auth_methods_supported: Type.Array(Type.String()),
  code_challenge_methods_supported: Type.Array(Type.String()),
  claims_supported: Type.Array(Type.String()),
  prompt_values_supported: Type.Array(Type.String()),
  authorization_response_iss_parameter_supported: Type.Boolean(),
  backchannel_logout_supported: Type.Boolean(),
  backchannel_logout_session_supported: Type.Boolean(),
  request_parameter_supported: Type.Boolean(),
  request_uri_parameter_supported: Type.Boolean(),
  claims_parameter_supported: Type.Boolean(),
  registration_endpoint: Type.Optional(Type.String()),
  service_documentation: Type.String(),
});

/** RFC 7591 §2 client metadata (the subset Gatehouse supports; others are ignored). */
export const RegistrationRequest = Type.Object(
  {
    redirect_uris: Type.Array(Type.String({ maxLength: 2048 }), { minItems: 1, maxItems: 20 }),
    client_name: Type.Optional(Type.String({ maxLength: 128 })),
    token_endpoint_auth_method: Type.Optional(Type.String({ maxLength: 64, description: '`none` (public), `client_secret_basic` (default) or `client_secret_post`' })),
    grant_types: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 5 })),
    response_types: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 5 })),
    scope: Type.Optional(Type.String({ maxLength: 1024 })),
    post_logout_redirect_uris: Type.Optional(Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 20 })),
    id_token_signed_response_alg: Type.Optional(Type.String({ maxLength: 16 })),
    backchannel_logout_uri: Type.Optional(Type.String({ maxLength: 2048 })),
  },
  { additionalProperties: true },
);

export const RegistrationResponse = Type.Object({
  client_id: Type.String(),
  client_secret: Type.Optional(Type.String()),
  client_id_issued_at: Type.Integer(),
  client_secret_expires_at: Type.Optional(Type.Integer()),
  client_name: Type.String(),
  redirect_uris: Type.Array(Type.String()),
  post_logout_redirect_uris: Type.Array(Type.String()),
  grant_types: Type.Array(Type.String()),
  response_types: Type.Array(Type.String()),
  token_endpoint_auth_method: Type.String(),
  scope: Type.String(),
  id_token_signed_response_alg: Type.String(),
  backchannel_logout_uri: Type.Optional(Type.String()),
});

export const RegistrationError = Type.Object({ error: Type.String(), error_description: Type.Optional(Type.String()) });

export const ConsentOut = Type.Object(
  {
    client_id: Type.String(),
    scope: Type.String({ description: 'Space-separated scopes consented to' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'Consent' },
);
