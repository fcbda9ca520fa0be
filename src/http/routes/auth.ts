/** The original service's five endpoints; thin: parse, call the service, shape the answer. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config/index.js';
import type { User } from '../../domain/types.js';
import { AppError } from '../../errors/index.js';
import type { AuthService } from '../../services/auth-service.js';
import type { RegistrationService } from '../../services/registration.js';
import type { EmailFlows } from '../../services/email-flows.js';
import { BEARER_SECURITY, FORM_AND_JSON, clientContext, emptyBodyAsObject } from '../route-helpers.js';
import { authenticate, principalOf } from '../plugins/authenticate.js';
import { LoginBody, LogoutBody, RefreshBody, RefreshQuery, RegisterBody, UserOut } from '../schemas/auth.js';
import { clearRefreshCookie, hasCsrfHeader, readRefreshCookie } from '../refresh-cookie.js';
import { presentedDeviceToken } from '../device-cookie.js';
import { tokenAnswers } from '../login-answer.js';
import type { PasswordCheckLimit } from '../password-rate-limit.js';
import { LOGIN_FORBIDDEN, problem, problems } from '../schemas/common.js';

/**
 * RFC 9745's Deprecation header: a structured-field date, when the `refresh_token` query
 * parameter became deprecated (Gatehouse's first version, 2026-11-25T06:48:00Z). It was
 * `true` before, an earlier draft's form that parsers of the RFC refuse.
 */
const QUERY_TOKEN_DEPRECATED = '@1795589280';

export interface AuthRoutesOptions {
  auth: AuthService;
  registration: RegistrationService;
  /** Set when verification mails go out at registration. */
  emailFlows: EmailFlows | undefined;
  config: Readonly<Config>;
  /** The per-IP budget /login shares with the password grant of /oauth/token. */
  passwordLimit: PasswordCheckLimit;
}


export function userOut(user: User) {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    email_verified: user.emailVerified,
    created_at: user.createdAt.toISOString(),
  };
}


export default async function authRoutes(instance: FastifyInstance, opts: AuthRoutesOptions) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { auth, registration, emailFlows, config, passwordLimit } = opts;
  const perMinute = (max: number) => ({ rateLimit: { max, timeWindow: 60_000 } });
  const answers = tokenAnswers(config, auth.deviceTokenTtlSeconds);
  const { tokenResponse, loginResponse, cookieHeaders } = answers;
  const answer = answers.tokens;
  const cookieMode = config.refresh.cookie;

  app.post(
    '/register',
    {
      config: { rateLimit: { max: config.rateLimit.registerPerHour, timeWindow: 3_600_000 } },
      schema: {
        tags: ['auth'],
        summary: 'Create an account',
        consumes: FORM_AND_JSON,
        body: RegisterBody,
        description:
          'Answers exactly as the original service did: `200` with only the message. A taken username or ' +
          'email, a password that breaks the policy, a mismatched confirmation or a bad email is `400` ' +
          "with the original's sentence as `detail` (the first rule broken) and every broken rule in `errors`.",
        response: {
          200: Type.Object({ message: Type.Literal('User created successfully') }, { additionalProperties: false }),
          ...problems(400, 413, 415, 429),
        },
      },
    },
    async (request) => {
      const { username, email, password, confirm_password } = request.body;
      const user = await registration.register({ username, email, password, confirmPassword: confirm_password, client: clientContext(request) });
      if (emailFlows) await emailFlows.requestVerification(user, clientContext(request));
      return { message: 'User created successfully' as const };
    },
  );

  app.post(
    '/login',
    {
      onRequest: passwordLimit,
      schema: {
        tags: ['auth'],
        summary: 'Log in with username (or email) and password',
        description:
          'Also accepts the OAuth2 password-flow form (`grant_type=password`) that Swagger UI and FastAPI clients send. ' +
          'Unknown user and wrong password answer alike. Failed logins are throttled per account as well as per IP; ' +
          'a login that presents the device token of an earlier login of the account is counted against that device only.',
        consumes: FORM_AND_JSON,
        body: LoginBody,
        ...cookieHeaders,
        response: { 200: loginResponse, ...problems(400, 401, 413, 415, 429), 403: LOGIN_FORBIDDEN },
      },
    },
    async (request, reply) => {
      const { username, password, device_token } = request.body;
      const deviceToken = presentedDeviceToken(request, device_token);
      return answers.login(request, reply, await auth.login({ username, password, deviceToken }, clientContext(request)));
    },
  );

  app.post(
    '/refresh',
    {
      config: perMinute(config.rateLimit.refreshPerMinute),
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for a new pair (rotation)',
        description:
          'Every use rotates the refresh token. Presenting the previous token again within the reuse grace window ' +
          'returns the same new token; after the window it revokes the whole session. The `refresh_token` query ' +
          'parameter is accepted for the original service\'s clients and answered with an RFC 9745 `Deprecation` header. ' +
          'With REFRESH_TOKEN_COOKIE=true and the header `X-Gatehouse-CSRF: 1`, a request without a token in the body ' +
          'uses the HttpOnly `gatehouse_refresh` cookie, and the new refresh token goes back into that cookie ' +
          '(the cookie without the header is refused: 403 `csrf_check_failed`).',
        consumes: FORM_AND_JSON,
        body: Type.Partial(RefreshBody, { additionalProperties: false }),
        querystring: RefreshQuery,
        ...cookieHeaders,
        response: {
          200: tokenResponse,
          ...problems(400, 401, 413, 415, 429),
          403: problem('`csrf_check_failed`: the refresh cookie was sent without the `X-Gatehouse-CSRF: 1` header'),
        },
      },
    },
    async (request, reply) => {
      let token = request.body.refresh_token;
      if (token === undefined && request.query.refresh_token !== undefined) {
        token = request.query.refresh_token;
        reply.header('deprecation', QUERY_TOKEN_DEPRECATED);
      }
      const cookie = token === undefined && cookieMode ? readRefreshCookie(request) : undefined;
      if (cookie !== undefined) {
        // The cookie rides along on any same-site request; only our custom header proves the app sent it.
        if (!hasCsrfHeader(request)) throw new AppError('csrf_check_failed', 'A refresh from the cookie needs the header X-Gatehouse-CSRF: 1');
        token = cookie;
      }
      if (token === undefined || token === '') {
        throw new AppError('validation_failed', 'The request has invalid fields', {
          errors: [{ field: 'refresh_token', message: 'is required' }],
        });
      }
      try {
        return answer(request, reply, await auth.refresh(token, undefined, clientContext(request)));
      } catch (error) {
        // A dead cookie is dropped, so the browser stops sending it.
        if (cookie !== undefined && error instanceof AppError && error.code === 'invalid_token') clearRefreshCookie(reply, config.publicPath);
        throw error;
      }
    },
  );

  app.post(
    '/logout',
    {
      preValidation: emptyBodyAsObject,
      onRequest: authenticate(auth),
      schema: {
        tags: ['auth'],
        summary: 'Revoke the current session',
        description: 'The access token stops working at once and the session\'s refresh token is dead.',
        security: BEARER_SECURITY,
        consumes: FORM_AND_JSON,
        body: LogoutBody,
        response: { 200: Type.Object({ message: Type.Literal('Successfully logged out') }), ...problems(400, 401) },
      },
    },
    async (request, reply) => {
      await auth.logout(principalOf(request), request.body.refresh_token, clientContext(request));
      // The cookie is scoped to /refresh, so it is not here to read: clear it for cookie-mode callers.
      if (cookieMode && hasCsrfHeader(request)) clearRefreshCookie(reply, config.publicPath);
      return { message: 'Successfully logged out' as const };
    },
  );

  app.get(
    '/me',
    {
      onRequest: authenticate(auth),
      schema: {
        tags: ['auth'],
        summary: 'The current user',
        security: BEARER_SECURITY,
        response: { 200: UserOut, ...problems(401) },
      },
    },
    async (request) => userOut(auth.currentUser(principalOf(request))),
  );
}
