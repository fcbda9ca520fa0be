/**
 * OAuth 2.0 standard endpoints over the same services, limits and rotation as /login and
 * /refresh: token (RFC 6749 §4.3, §6), revocation (RFC 7009), introspection (RFC 7662).
 * Errors here follow RFC 6749 §5.2 instead of problem details.
 */
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config/index.js';
import { AppError, type ErrorCode } from '../../errors/index.js';
import type { AuthService } from '../../services/auth-service.js';
import type { MfaService } from '../../services/mfa-service.js';
import { MFA_OTP_GRANT } from '../../domain/types.js';
import { authorizationServerMetadata } from '../server-metadata.js';
import type { ClientCredentials, ClientRegistry } from '../../services/client-registry.js';
import type { OidcService } from '../../services/oidc/oidc-service.js';
import { toAppError, loggable } from '../plugins/errors.js';
import { IntrospectionResponse, OAuthTokenResponse, ServerMetadata, TokenOnlyRequest, TokenRequest, oauthErrors } from '../schemas/oauth.js';
import { OAUTH_FORM_AND_JSON, clientContext, noStore } from '../route-helpers.js';
import { presentedDeviceToken, setDeviceCookie } from '../device-cookie.js';
import type { PasswordCheckLimit } from '../password-rate-limit.js';

export interface OAuthRoutesOptions {
  auth: AuthService;
  mfa: MfaService;
  /** OpenID Connect: the authorization_code grant. */
  oidc: OidcService;
  clients: ClientRegistry;
  config: Readonly<Config>;
  /** Per IP: the password grant shares /login's budget, the refresh grant has its own. */
  passwordLimit: PasswordCheckLimit;
}


/** Our error codes → RFC 6749 §5.2 `error` values. */
const OAUTH_ERROR: Partial<Record<ErrorCode, string>> = {
  validation_failed: 'invalid_request',
  payload_too_large: 'invalid_request',
  unsupported_media_type: 'invalid_request',
  invalid_credentials: 'invalid_grant',
  invalid_mfa_code: 'invalid_grant',
  invalid_mfa_token: 'invalid_grant',
  mfa_required: 'mfa_required',
  invalid_token: 'invalid_grant',
  account_locked: 'invalid_grant',
  invalid_client: 'invalid_client',
  unauthorized_client: 'unauthorized_client',
  unsupported_grant_type: 'unsupported_grant_type',
  rate_limited: 'temporarily_unavailable',
  service_unavailable: 'temporarily_unavailable',
};

function statusFor(error: AppError): number {
  // §5.2: 400 for everything but client authentication (401); limits and outages keep theirs.
  if (error.code === 'invalid_client') return 401;
  if (error.code === 'mfa_required') return 403;
  if ([413, 415, 429, 503].includes(error.status)) return error.status;
  if (error.status >= 500) return 500;
  return 400;
}

function errorDescription(error: AppError): string {
  const fields = error.extra.errors?.map((e) => `${e.field} ${e.message}`).join('; ');
  return fields ? `${error.detail}: ${fields}` : error.detail;
}

function invalidRequest(detail: string): AppError {
  return new AppError('validation_failed', detail);
}

/** form-urlencoding inside HTTP Basic, as RFC 6749 §2.3.1 asks of clients. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/** client_secret_basic or client_secret_post (never both), or a public client's client_id. */
export function clientCredentials(request: FastifyRequest, body: { client_id?: string | undefined; client_secret?: string | undefined }): ClientCredentials {
  const header = request.headers.authorization;
  if (header && /^basic /i.test(header)) {
    let clientId: string;
    let clientSecret: string;
    try {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new Error('no colon');
      clientId = formDecode(decoded.slice(0, colon));
      clientSecret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw new AppError('invalid_client', 'Malformed HTTP Basic client credentials');
    }
    if (body.client_secret !== undefined) throw invalidRequest('Use one client authentication method, not two');
    if (body.client_id !== undefined && body.client_id !== clientId) throw invalidRequest('client_id does not match the Authorization header');
    return { clientId, clientSecret };
  }
  return { clientId: body.client_id, clientSecret: body.client_secret };
}

export default async function oauthRoutes(instance: FastifyInstance, opts: OAuthRoutesOptions) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { auth, mfa, clients, config } = opts;

  // RFC 8414 (the OpenID Connect discovery document extends the same fields).
  const metadata = authorizationServerMetadata(config);

  app.get(
    '/.well-known/oauth-authorization-server',
    {
      schema: {
        tags: ['standards'],
        summary: 'Authorization server metadata (RFC 8414)',
        response: { 200: ServerMetadata },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=3600');
      return metadata;
    },
  );

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500 && appError.code !== 'service_unavailable') request.log.error({ err: loggable(error) }, 'request failed');
    const status = statusFor(appError);
    noStore(reply);
    if (status === 401) reply.header('www-authenticate', 'Basic realm="gatehouse"');
    if (appError.extra.retryAfterSeconds !== undefined) reply.header('retry-after', String(appError.extra.retryAfterSeconds));
    return reply
      .code(status)
      .type('application/json')
      .send({
        error: OAUTH_ERROR[appError.code] ?? 'server_error',
        error_description: status >= 500 && status !== 503 ? 'Something went wrong on our side' : errorDescription(appError),
        ...(appError.code === 'mfa_required' ? { mfa_token: appError.extra.members?.mfa_token } : {}),
      });
  });

  const errors = oauthErrors(400, 401, 403, 429, 503);

  app.post(
    '/oauth/token',
    {
      // After validation: the budget depends on the grant type.
      preHandler: opts.passwordLimit,
      schema: {
        tags: ['standards'],
        summary: 'OAuth 2.0 token endpoint: authorization_code (with PKCE), password and refresh_token grants',
        description:
          'RFC 6749 §4.3 and §6, form-encoded (JSON accepted too). Without client credentials it acts as the public ' +
          'default client `gatehouse`. Registered clients authenticate with client_secret_basic or client_secret_post. ' +
          'Same limits, lockout and rotation as /login and /refresh. Errors per RFC 6749 §5.2.',
        consumes: OAUTH_FORM_AND_JSON,
        body: TokenRequest,
        response: { 200: OAuthTokenResponse, ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      noStore(reply);
      if (body.grant_type === undefined || body.grant_type === '') throw invalidRequest('grant_type is required');
      if (body.grant_type !== 'password' && body.grant_type !== 'refresh_token' && body.grant_type !== 'authorization_code' && body.grant_type !== MFA_OTP_GRANT) {
        throw new AppError('unsupported_grant_type', `grant_type ${body.grant_type} is not supported here`);
      }
      const client = await clients.authenticate(clientCredentials(request, body));
      // The mfa-otp grant is the second half of a password grant: allowed with it.
      clients.assertGrant(client, body.grant_type === MFA_OTP_GRANT ? 'password' : body.grant_type);
      if (body.grant_type === 'authorization_code') {
        return opts.oidc.exchangeCode(client, { code: body.code, redirectUri: body.redirect_uri, codeVerifier: body.code_verifier }, clientContext(request));
      }
      if (body.grant_type === MFA_OTP_GRANT) {
        if (!body.mfa_token) throw invalidRequest('mfa_token is required');
        const tokens = await mfa.loginWithCode({ mfaToken: body.mfa_token, code: body.otp, recoveryCode: body.recovery_code }, clientContext(request), client);
        setDeviceCookie(reply, tokens.device_token, auth.deviceTokenTtlSeconds, config.publicUrl.startsWith('https:'));
        return tokens;
      }
      if (body.grant_type === 'password') {
        if (!body.username || !body.password) throw invalidRequest('username and password are required');
        const deviceToken = presentedDeviceToken(request, body.device_token);
        const tokens = await auth.login({ username: body.username, password: body.password, deviceToken }, clientContext(request), client);
        setDeviceCookie(reply, tokens.device_token, auth.deviceTokenTtlSeconds, config.publicUrl.startsWith('https:'));
        return tokens;
      }
      if (!body.refresh_token) throw invalidRequest('refresh_token is required');
      return auth.refresh(body.refresh_token, client, clientContext(request));
    },
  );

  app.post(
    '/oauth/revoke',
    {
      config: { rateLimit: { max: config.rateLimit.refreshPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['standards'],
        summary: 'OAuth 2.0 token revocation (RFC 7009)',
        description:
          'Revokes an access token (by its jti) or a refresh token (its whole session) issued to the calling client. ' +
          'Unknown tokens, and tokens of other clients, answer 200 and change nothing.',
        consumes: OAUTH_FORM_AND_JSON,
        body: TokenOnlyRequest,
        response: { 200: Type.Object({}, { description: 'Revoked, or nothing to revoke (an empty object; RFC 7009 clients ignore the body)' }), ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (!body.token) throw invalidRequest('token is required');
      const client = await clients.authenticate(clientCredentials(request, body));
      const hint = body.token_type_hint === 'access_token' || body.token_type_hint === 'refresh_token' ? body.token_type_hint : undefined;
      await auth.revokeToken(body.token, client, hint, clientContext(request));
      noStore(reply);
      return {};
    },
  );

  app.post(
    '/oauth/introspect',
    {
      schema: {
        tags: ['standards'],
        summary: 'OAuth 2.0 token introspection (RFC 7662)',
        description:
          'For resource servers holding a registered client secret. Only tokens issued to the calling client, or for ' +
          'its audience, can be active (RFC 7662 §4); any other token, and an expired, revoked or unknown one, ' +
          'answers {"active": false} and nothing else.',
        consumes: OAUTH_FORM_AND_JSON,
        body: TokenOnlyRequest,
        response: { 200: IntrospectionResponse, ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const caller = await clients.authenticateConfidential(clientCredentials(request, body));
      if (!body.token) throw invalidRequest('token is required');
      noStore(reply);
      const result = await auth.introspect(body.token, caller);
      return result ? { active: true, ...result } : { active: false };
    },
  );
}
