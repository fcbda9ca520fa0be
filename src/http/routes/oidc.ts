/**
 * OpenID Connect: discovery, the authorization endpoint and its hosted pages (sign in,
 * consent), userinfo and RP-initiated logout. The rules live in services/oidc; this file
 * turns their outcomes into redirects and pages. The pages work without JavaScript.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { timingSafeEqual } from 'node:crypto';
import type { Config } from '../../config/index.js';
import { AppError } from '../../errors/index.js';
import { authorizationServerMetadata } from '../server-metadata.js';
import type { AuthService } from '../../services/auth-service.js';
import type { AuthorizationParams } from '../../services/oidc/authorization-request.js';
import type { AuthorizationResponse, AuthorizeOutcome, OidcService, SignOnSession } from '../../services/oidc/oidc-service.js';
import { authenticate, principalOf } from '../plugins/authenticate.js';
import { loggable, toAppError } from '../plugins/errors.js';
import { problems } from '../schemas/common.js';
import {
  AuthorizationQuery,
  ConsentOut,
  EndSessionParams,
  OpenIdConfiguration,
  PageForm,
  PasskeyForm,
  PasskeyOptionsRequest,
  RegistrationError,
  RegistrationRequest,
  RegistrationResponse,
  UserinfoResponse,
} from '../schemas/oidc.js';
import { AuthenticationResponse, WebAuthnOptions } from '../schemas/mfa.js';
import { PASSKEY_SCRIPT, PASSKEY_SCRIPT_PATH } from '../pages/passkey-script.js';
import type { RegistrationResult } from '../../services/oidc/registration.js';
import { clearSessionCookie, cookieSettings, csrfToken, csrfValid, readCookie, setSessionCookie, type CookieSettings } from '../pages/cookies.js';
import { messagesFor, type MessageKey, type Messages } from '../pages/messages.js';
import { alert, hidden, html, Html, originOf, scriptHash, sendPage } from '../pages/render.js';
import { STYLESHEET } from '../pages/stylesheet.js';
import { FORM_AND_JSON, clientContext } from '../route-helpers.js';
import { presentedDeviceToken, setDeviceCookie } from '../device-cookie.js';
import type { PasswordCheckLimit } from '../password-rate-limit.js';

export interface OidcRoutesOptions {
  auth: AuthService;
  oidc: OidcService;
  config: Readonly<Config>;
  /** Password reset page exists (EMAIL_FLOWS): the sign-in page links to it. */
  forgotPasswordUrl: string | undefined;
  /** RFC 7591 registration (only called when the setting is on). */
  registerClient: (metadata: Static<typeof RegistrationRequest>) => Promise<RegistrationResult>;
  /** The per-IP budget every password check shares (/login, the password grant, /signin). */
  passwordLimit: PasswordCheckLimit;
}

/** The form_post auto-submit (the one script of the hosted pages; allowed by its hash). */
const AUTO_SUBMIT = 'document.forms[0].submit();';
const AUTO_SUBMIT_HASH = scriptHash(AUTO_SUBMIT);

/** How the browser endpoints answer, for the OpenAPI document. */
const HTML_PAGE = { description: 'An HTML page (sign-in, consent, an error that says what to do)', content: { 'text/html': { schema: { type: 'string' } } } };
const PAGE_RESPONSES = { 200: HTML_PAGE };
const AUTHORIZATION_RESPONSES = {
  200: HTML_PAGE,
  303: { description: 'Back to the client\'s redirect_uri with `code` (or `error`), `state` and `iss`' },
};

/** What a page with the passkey form may run and fetch: the script file, and Gatehouse for its options. */
const PASSKEY_PAGE_SCRIPT = (base: string) => ({ scriptUrls: [`${base}${PASSKEY_SCRIPT_PATH}`], connectSelf: true });

/** The factor names a second page was given (carried in its forms). */
const factorsOf = (value: string | undefined): string[] => (value ?? '').split(' ').filter((f) => f !== '');

/**
 * The passkey form's `response` field: a WebAuthn AuthenticationResponseJSON, or undefined.
 * typebox/value is imported here, at the first passkey form, not at start-up: it is ~300
 * modules more than the schemas need, and as with the passkey library (services/passkeys.ts)
 * a larger module graph loaded measurably slowed unrelated requests (docs/performance.md).
 */
async function assertionOf(value: string | undefined): Promise<AuthenticationResponseJSON | undefined> {
  if (!value) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  const { Value } = await import('typebox/value');
  return Value.Check(AuthenticationResponse, parsed) ? (parsed as unknown as AuthenticationResponseJSON) : undefined;
}

const PAGE_ERROR_STATUS: Partial<Record<MessageKey, number>> = {
  'error.csrf': 403,
  'error.rate_limited': 429,
  'error.unavailable': 503,
};

const typed = (instance: FastifyInstance) => instance.withTypeProvider<TypeBoxTypeProvider>();
type TypedApp = ReturnType<typeof typed>;

/** The messages for a refused sign-in, by error code (anything else is not the user's to fix). */
const SIGN_IN_REFUSALS: Readonly<Record<string, MessageKey>> = {
  invalid_credentials: 'signin.failed',
  account_locked: 'signin.locked',
  rate_limited: 'signin.locked',
  email_not_verified: 'signin.unverified',
};

/** A refused sign-in as the pages show it (with Retry-After when locked), or undefined for any other error. */
function signInRefusal(error: unknown, reply: FastifyReply): { key: MessageKey; status: number } | undefined {
  if (!(error instanceof AppError)) return undefined;
  const key = SIGN_IN_REFUSALS[error.code];
  if (key === undefined) return undefined;
  if (error.extra.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.extra.retryAfterSeconds));
  return { key, status: error.status };
}

export default async function oidcRoutes(instance: FastifyInstance, opts: OidcRoutesOptions) {
  const app = typed(instance);
  const { oidc, config } = opts;
  const base = config.publicUrl;
  const publicOrigin = new URL(base).origin;
  const cookies: CookieSettings = cookieSettings(base, config.refresh.ttlSeconds);
  const PASSKEY_PAGE = PASSKEY_PAGE_SCRIPT(publicOrigin + config.publicPath);
  /** A link or form action of the pages: under PUBLIC_URL's path, where the browser reaches us. */
  const at = (path: string) => `${config.publicPath}${path}`;

  // RFC 8414's fields (the same document as /.well-known/oauth-authorization-server), then OpenID Connect's.
  const discovery = {
    ...authorizationServerMetadata(config),
    userinfo_endpoint: `${base}/userinfo`,
    end_session_endpoint: `${base}/oauth/end-session`,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256', 'EdDSA'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'sid', 'preferred_username', 'email', 'email_verified'],
    prompt_values_supported: ['none', 'login', 'consent'],
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    claims_parameter_supported: false,
  };

  app.get(
    '/.well-known/openid-configuration',
    {
      schema: {
        tags: ['openid'],
        summary: 'OpenID Connect Discovery 1.0 provider metadata',
        description: 'Every URL derives from PUBLIC_URL; the issuer is exactly the `iss` of every token.',
        response: { 200: OpenIdConfiguration },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=3600').header('access-control-allow-origin', '*');
      return discovery;
    },
  );

  app.get('/assets/gatehouse.css', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET);
  });

  const userinfoSchema = {
    tags: ['openid'],
    summary: 'OpenID Connect UserInfo (Core §5.3)',
    description: 'Bearer access token with the `openid` scope. `preferred_username` with `profile`; `email`, `email_verified` with `email`.',
    security: [{ bearerAuth: [] }],
    response: { 200: UserinfoResponse, ...problems(401, 403) },
  };
  app.get('/userinfo', { onRequest: authenticate(opts.auth), schema: userinfoSchema }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return oidc.userinfo(principalOf(request));
  });
  app.post('/userinfo', { onRequest: authenticate(opts.auth), schema: userinfoSchema }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return oidc.userinfo(principalOf(request));
  });

  const bearer = [{ bearerAuth: [] }];
  app.get(
    '/consents',
    {
      onRequest: authenticate(opts.auth),
      schema: {
        tags: ['openid'],
        summary: 'The clients the caller consented to, and for which scopes',
        security: bearer,
        response: { 200: Type.Array(ConsentOut), ...problems(401) },
      },
    },
    async (request) =>
      (await oidc.listConsents(principalOf(request))).map((c) => ({ client_id: c.clientId, scope: c.scope.join(' '), created_at: c.createdAt.toISOString() })),
  );
  app.delete(
    '/consents/:client_id',
    {
      onRequest: authenticate(opts.auth),
      schema: {
        tags: ['openid'],
        summary: 'Withdraw consent to a client (it asks again at the next sign-in)',
        security: bearer,
        params: Type.Object({ client_id: Type.String({ maxLength: 64 }) }),
        response: { 204: Type.Null({ description: 'Withdrawn' }), ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      await oidc.revokeConsent(principalOf(request), request.params.client_id, clientContext(request));
      return reply.code(204).send(null);
    },
  );

  if (config.oidc.dynamicRegistration && config.oidc.registrationToken) {
    const expected = Buffer.from(config.oidc.registrationToken);
    app.post(
      '/oauth/register',
      {
        config: { rateLimit: { max: config.rateLimit.registerPerHour, timeWindow: 3_600_000 } },
        schema: {
          tags: ['openid'],
          summary: 'Dynamic client registration (RFC 7591)',
          description:
            'Only with OIDC_DYNAMIC_REGISTRATION=true, and with the initial access token (OIDC_REGISTRATION_TOKEN) as a Bearer ' +
            'token. Registered clients are third-party (they get the consent screen). Errors: RFC 7591 §3.2.2.',
          security: [{ bearerAuth: [] }],
          body: RegistrationRequest,
          response: { 201: RegistrationResponse, 400: RegistrationError, 401: RegistrationError },
        },
      },
      async (request, reply) => {
        const presented = Buffer.from(/^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '');
        if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
          return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'invalid_token', error_description: 'Send the initial access token as a Bearer token' });
        }
        const result = await opts.registerClient(request.body);
        if (!result.ok) return reply.code(400).header('cache-control', 'no-store').send({ error: result.error, error_description: result.description });
        return reply.code(201).header('cache-control', 'no-store').send(result.client);
      },
    );
  }

  // The passkey script of the sign-in pages: a file of ours, so their CSP can name it exactly.
  app.get(PASSKEY_SCRIPT_PATH, { schema: { hide: true } }, async (_request, reply) => {
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(PASSKEY_SCRIPT);
  });

  if (oidc.passkeysEnabled) {
    app.post(
      '/signin/passkey/options',
      {
        // Each call keeps a challenge server-side: bounded per IP, as /webauthn/login/options.
        config: { rateLimit: { max: Math.max(30, config.rateLimit.loginPerMinute), timeWindow: 60_000 } },
        schema: {
          tags: ['openid'],
          summary: 'WebAuthn options for the passkey script of the sign-in pages',
          description:
            'Called by /signin/passkey.js with the page\'s `csrf_token` (it must equal the CSRF cookie, and a browser\'s Origin must be Gatehouse\'s). ' +
            'Without `mfa_token`: username-less (no allowCredentials) and user verification required, for the sign-in page and its autofill. ' +
            'With the second page\'s `mfa_token`: that user\'s passkeys. Pass them to navigator.credentials.get(), then submit the result to POST /signin/passkey.',
          consumes: FORM_AND_JSON,
          body: PasskeyOptionsRequest,
          response: { 200: WebAuthnOptions, ...problems(400, 401, 403, 429) },
        },
      },
      async (request, reply) => {
        if (!csrfValid(request, cookies, request.body.csrf_token, publicOrigin)) {
          throw new AppError('forbidden', 'The CSRF token does not match the page\'s cookie, or the request came from another origin');
        }
        reply.header('cache-control', 'no-store');
        return oidc.passkeyOptions(request.body.mfa_token);
      },
    );
  }

  // The pages, in their own scope: their failures are answered as pages, not problem documents.
  await app.register(async (scope) => pageRoutes(typed(scope)));

  async function pageRoutes(app: TypedApp) {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500 && appError.code !== 'service_unavailable') request.log.error({ err: loggable(error) }, 'request failed');
    const messages = messagesFor(request.headers['accept-language']);
    const key: MessageKey =
      appError.code === 'rate_limited' ? 'error.rate_limited' : appError.status >= 500 ? 'error.unavailable' : 'error.bad_request';
    if (appError.extra.retryAfterSeconds !== undefined) reply.header('retry-after', String(appError.extra.retryAfterSeconds));
    return errorPage(reply, messages, key, appError.status >= 500 && appError.status !== 503 ? 500 : appError.status);
  });

  function errorPage(reply: FastifyReply, messages: Messages, key: MessageKey, status?: number): FastifyReply {
    return sendPage(reply, {
      status: status ?? PAGE_ERROR_STATUS[key] ?? 400,
      title: messages.t('error.title'),
      body: html`<p>${messages.t(key)}</p>`,
      messages,
    });
  }

  async function currentSession(request: FastifyRequest): Promise<SignOnSession | undefined> {
    return oidc.signOnSession(readCookie(request, cookies.sessionName));
  }

  /** RFC 6749 §4.1.2 (query) or OAuth 2.0 Form Post Response Mode. */
  function respond(reply: FastifyReply, messages: Messages, response: AuthorizationResponse): FastifyReply {
    const { target, params } = response;
    if (target.responseMode === 'query') {
      const url = new URL(target.redirectUri);
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
      return reply.code(303).header('cache-control', 'no-store').redirect(url.toString(), 303);
    }
    const origin = originOf(target.redirectUri);
    return sendPage(reply, {
      title: messages.t('form_post.title'),
      messages,
      formTargets: origin ? [origin] : [],
      scriptHashes: [AUTO_SUBMIT_HASH],
      body: html`<form method="post" action="${target.redirectUri}">${Object.entries(params).map(([n, v]) => hidden(n, v))}<p>${messages.t('form_post.lead')}</p><button class="gh-primary" type="submit">${messages.t('form_post.submit')}</button></form><script>${new Html(AUTO_SUBMIT)}</script>`,
    });
  }

  /** The request's parameters as one query string, carried through the pages in a hidden field. */
  const carry = (params: AuthorizationParams): string => new URLSearchParams(params as Record<string, string>).toString();
  const uncarry = (value: string | undefined): AuthorizationParams => (value ? Object.fromEntries(new URLSearchParams(value)) : {});

  function signInPage(
    request: FastifyRequest,
    reply: FastifyReply,
    messages: Messages,
    params: AuthorizationParams | undefined,
    clientName: string | undefined,
    options: { error?: string; status?: number; username?: string } = {},
  ): FastifyReply {
    const csrf = csrfToken(request, reply, cookies);
    const redirectOrigin = params?.redirect_uri ? originOf(params.redirect_uri) : undefined;
    const lead = clientName ? messages.t('signin.lead', { client: clientName }) : messages.t('signin.lead.plain');
    const forgot: Html | undefined = opts.forgotPasswordUrl
      ? html`<p class="gh-muted"><a href="${opts.forgotPasswordUrl}">${messages.t('signin.forgot')}</a></p>`
      : undefined;
    const authorize = params ? carry(params) : undefined;
    const passkey = oidc.passkeysEnabled ? passkeyForm(messages, csrf, { authorize, second: undefined }) : undefined;
    return sendPage(reply, {
      status: options.status ?? 200,
      title: messages.t('signin.title'),
      messages,
      formTargets: redirectOrigin ? [redirectOrigin] : [],
      ...(passkey ? PASSKEY_PAGE : {}),
      body: html`<p>${lead}</p>${alert(options.error)}
<form method="post" action="${at('/signin')}">
${hidden('csrf_token', csrf)}${authorize ? hidden('authorize', authorize) : undefined}
<label>${messages.t('signin.username')}<input type="text" name="username" autocomplete="username webauthn" autocapitalize="none" spellcheck="false" required maxlength="254" value="${options.username ?? params?.login_hint ?? ''}" autofocus></label>
<label>${messages.t('signin.password')}<input type="password" name="password" autocomplete="current-password" required maxlength="1024"></label>
<button class="gh-primary" type="submit">${messages.t('signin.submit')}</button>
</form>${passkey}${forgot}`,
    });
  }

  /**
   * The passkey form: hidden until /signin/passkey.js shows it (so a browser without
   * JavaScript never sees a button that cannot work); the script fills in `response` and
   * submits it. On the sign-in page it also asks for the username field's autofill.
   */
  function passkeyForm(
    messages: Messages,
    csrf: string,
    options: { authorize: string | undefined; second: { mfaToken: string; factors: string } | undefined },
  ): Html {
    const { authorize, second } = options;
    return html`<form method="post" action="${at('/signin/passkey')}" id="gh-passkey" class="gh-passkey" hidden data-autofill="${second ? 'off' : 'on'}" data-failed="${messages.t(second ? 'passkey.failed.second' : 'passkey.failed')}" data-cancelled="${messages.t(second ? 'passkey.cancelled.second' : 'passkey.cancelled')}">
${hidden('csrf_token', csrf)}${authorize ? hidden('authorize', authorize) : undefined}${second ? [hidden('mfa_token', second.mfaToken), hidden('factors', second.factors)] : undefined}${hidden('response', '')}
<p class="gh-or">${messages.t('passkey.or')}</p>
<p class="gh-alert" role="alert" id="gh-passkey-status" hidden></p>
<button class="gh-secondary" type="button" id="gh-passkey-button">${messages.t(second ? 'passkey.instead' : 'passkey.signin')}</button>
</form>
<script src="${at(PASSKEY_SCRIPT_PATH)}" defer></script>`;
  }

  function consentPage(request: FastifyRequest, reply: FastifyReply, messages: Messages, outcome: Extract<AuthorizeOutcome, { kind: 'consent' }>): FastifyReply {
    const csrf = csrfToken(request, reply, cookies);
    const origin = originOf(outcome.request.redirectUri);
    const scopes = outcome.scopes.map((s) => html`<li>${messages.t(`scope.${s}` as MessageKey)}</li>`);
    return sendPage(reply, {
      title: messages.t('consent.title'),
      messages,
      formTargets: origin ? [origin] : [],
      body: html`<p>${messages.t('consent.lead', { client: outcome.request.client.name })}</p>
<ul class="gh-scopes">${scopes}</ul>
<p class="gh-muted">${messages.t('consent.as', { username: outcome.session.user.username })}</p>
<form method="post" action="${at('/consent')}">
${hidden('csrf_token', csrf)}${hidden('authorize', carry(outcome.request.params))}
<div class="gh-actions"><button class="gh-secondary" type="submit" name="decision" value="deny">${messages.t('consent.deny')}</button><button class="gh-primary" type="submit" name="decision" value="allow">${messages.t('consent.allow')}</button></div>
</form>
<p class="gh-muted">${messages.t('consent.note')}</p>`,
    });
  }

  async function answer(request: FastifyRequest, reply: FastifyReply, outcome: AuthorizeOutcome): Promise<FastifyReply> {
    const messages = messagesFor(request.headers['accept-language']);
    switch (outcome.kind) {
      case 'error_page':
        return errorPage(reply, messages, `error.${outcome.page}`);
      case 'respond':
        return respond(reply, messages, outcome.response);
      case 'sign_in':
        return signInPage(request, reply, messages, outcome.request.params, outcome.request.client.name);
      case 'consent':
        return consentPage(request, reply, messages, outcome);
    }
  }

  const authorizeSchema = {
    tags: ['openid'],
    summary: 'OpenID Connect authorization endpoint (authorization code flow with PKCE S256)',
    description:
      'response_type=code only; code_challenge with code_challenge_method=S256 required for every client; the redirect_uri ' +
      'must match a registered one exactly (otherwise an error page, no redirect). Answers with a 303 to the client ' +
      '(response_mode=query) or an auto-submitting form (form_post), always with `iss` (RFC 9207), or with the sign-in ' +
      'or consent page. An unknown client or an unregistered redirect_uri gets an error page (400), never a redirect.',
    response: AUTHORIZATION_RESPONSES,
  };

  app.get('/oauth/authorize', { schema: { ...authorizeSchema, querystring: AuthorizationQuery } }, async (request, reply) =>
    answer(request, reply, await oidc.authorize(request.query as AuthorizationParams, await currentSession(request))),
  );
  app.post(
    '/oauth/authorize',
    { schema: { ...authorizeSchema, summary: 'The authorization endpoint, form-encoded (OpenID Connect Core §3.1.2.1)', body: AuthorizationQuery, consumes: ['application/x-www-form-urlencoded'] } },
    async (request, reply) => answer(request, reply, await oidc.authorize(request.body as AuthorizationParams, await currentSession(request))),
  );

  app.get(
    '/signin',
    { schema: { tags: ['openid'], summary: 'The hosted sign-in page (HTML)', response: PAGE_RESPONSES } },
    async (request, reply) => {
      const messages = messagesFor(request.headers['accept-language']);
      const session = await currentSession(request);
      if (session) return sendPage(reply, { title: messages.t('signin.title'), messages, body: html`<p>${messages.t('signin.done', { username: session.user.username })}</p>` });
      return signInPage(request, reply, messages, undefined, undefined);
    },
  );

  app.post(
    '/signin',
    {
      // The same per-IP budget as /login and the password grant: a third route adds no guesses.
      onRequest: opts.passwordLimit,
      schema: {
        tags: ['openid'],
        summary: 'Sign in with username (or email) and password (the hosted page posts here)',
        description: 'Form fields `username`, `password`, `csrf_token` (must equal the CSRF cookie), and `authorize` (the authorization request being answered). Same limits and lockout as /login.',
        consumes: ['application/x-www-form-urlencoded'],
        body: PageForm,
        response: PAGE_RESPONSES,
      },
    },
    async (request, reply) => {
      const messages = messagesFor(request.headers['accept-language']);
      const body = request.body;
      if (!csrfValid(request, cookies, body.csrf_token, publicOrigin)) return errorPage(reply, messages, 'error.csrf');
      const params = body.authorize ? uncarry(body.authorize) : undefined;
      const clientName = await oidc.clientName(params?.client_id);
      if (!body.username || !body.password) {
        return signInPage(request, reply, messages, params, clientName, { error: messages.t('signin.missing'), status: 400, username: body.username });
      }
      let signedIn;
      try {
        signedIn = await oidc.signIn({ username: body.username, password: body.password, deviceToken: presentedDeviceToken(request, undefined) }, clientContext(request));
      } catch (error) {
        const refused = signInRefusal(error, reply);
        if (!refused) throw error;
        return signInPage(request, reply, messages, params, clientName, { error: messages.t(refused.key), status: refused.status, username: body.username });
      }
      if (signedIn.kind === 'second_factor') return secondFactorPage(request, reply, messages, signedIn.challenge.mfaToken, body.authorize, signedIn.challenge.factors);
      // As after /login: this device has signed in, and gets its own failure budget next time.
      setDeviceCookie(reply, signedIn.deviceToken, opts.auth.deviceTokenTtlSeconds, base.startsWith('https:'));
      return signedInNow(request, reply, messages, signedIn, params);
    },
  );

  async function signedInNow(
    request: FastifyRequest,
    reply: FastifyReply,
    messages: Messages,
    signedIn: { cookieToken: string; session: SignOnSession },
    params: AuthorizationParams | undefined,
  ): Promise<FastifyReply> {
    setSessionCookie(reply, cookies, signedIn.cookieToken);
    if (!params) return sendPage(reply, { title: messages.t('signin.title'), messages, body: html`<p>${messages.t('signin.done', { username: signedIn.session.user.username })}</p>` });
    // Back to the authorization request, answered now with this fresh sign-in (prompt=login is satisfied).
    return answer(request, reply, await oidc.authorize(params, signedIn.session, { freshSignIn: true }));
  }

  /**
   * The second page: a code (TOTP or recovery code) always; "use a passkey instead" when
   * the user has one. `factors` comes from the password step (and is carried by the form;
   * it only decides which ways the page offers, never what is accepted).
   */
  function secondFactorPage(
    request: FastifyRequest,
    reply: FastifyReply,
    messages: Messages,
    mfaToken: string,
    authorize: string | undefined,
    factors: string[],
    error?: string,
  ): FastifyReply {
    const csrf = csrfToken(request, reply, cookies);
    const params = authorize ? uncarry(authorize) : undefined;
    const redirectOrigin = params?.redirect_uri ? originOf(params.redirect_uri) : undefined;
    const known = factors.filter((f) => ['totp', 'webauthn', 'recovery_code'].includes(f));
    const passkey =
      oidc.passkeysEnabled && known.includes('webauthn')
        ? passkeyForm(messages, csrf, { authorize, second: { mfaToken, factors: known.join(' ') } })
        : undefined;
    // Without an authenticator app the field is for recovery codes only.
    const noTotp = passkey !== undefined && !known.includes('totp');
    const lead = messages.t(noTotp ? 'second_factor.lead.passkey' : 'second_factor.lead');
    return sendPage(reply, {
      status: error ? 401 : 200,
      title: messages.t('second_factor.title'),
      messages,
      formTargets: redirectOrigin ? [redirectOrigin] : [],
      ...(passkey ? PASSKEY_PAGE : {}),
      body: html`<p>${lead}</p>${alert(error)}
<form method="post" action="${at('/signin/second-factor')}">
${hidden('csrf_token', csrf)}${hidden('mfa_token', mfaToken)}${authorize ? hidden('authorize', authorize) : undefined}${known.length > 0 ? hidden('factors', known.join(' ')) : undefined}
<label>${messages.t(noTotp ? 'second_factor.recovery_code' : 'second_factor.code')}<input type="text" name="code" ${noTotp ? undefined : new Html('inputmode="numeric" ')}autocomplete="one-time-code" required maxlength="64" autofocus></label>
<button class="gh-primary" type="submit">${messages.t('second_factor.submit')}</button>
</form>${passkey}`,
    });
  }

  app.post(
    '/signin/second-factor',
    {
      // A code guess draws from the same per-IP budget as a password check (and /login/mfa).
      onRequest: opts.passwordLimit,
      schema: {
        tags: ['openid'],
        summary: 'The second step of a sign-in: field `code` (an authenticator code or a recovery code)',
        description: 'Form fields `code`, `mfa_token` (from the page), `csrf_token`, `authorize`. Wrong codes count like wrong passwords.',
        consumes: ['application/x-www-form-urlencoded'],
        body: PageForm,
        response: PAGE_RESPONSES,
      },
    },
    async (request, reply) => {
      const messages = messagesFor(request.headers['accept-language']);
      const body = request.body;
      if (!csrfValid(request, cookies, body.csrf_token, publicOrigin)) return errorPage(reply, messages, 'error.csrf');
      const params = body.authorize ? uncarry(body.authorize) : undefined;
      if (!body.mfa_token) return signInPage(request, reply, messages, params, await oidc.clientName(params?.client_id));
      const factors = factorsOf(body.factors);
      if (!body.code) return secondFactorPage(request, reply, messages, body.mfa_token, body.authorize, factors, messages.t('second_factor.missing'));
      let result;
      try {
        result = await oidc.completeSecondFactor(body.mfa_token, body.code, clientContext(request));
      } catch (error) {
        const refused = signInRefusal(error, reply);
        if (!refused) throw error;
        return signInPage(request, reply, messages, params, await oidc.clientName(params?.client_id), { error: messages.t(refused.key), status: refused.status });
      }
      if (result.ok) {
        setDeviceCookie(reply, result.deviceToken, opts.auth.deviceTokenTtlSeconds, base.startsWith('https:'));
        return signedInNow(request, reply, messages, result, params);
      }
      if (result.retry) return secondFactorPage(request, reply, messages, body.mfa_token, body.authorize, factors, messages.t('second_factor.wrong'));
      return signInPage(request, reply, messages, params, await oidc.clientName(params?.client_id), { error: messages.t('second_factor.expired'), status: 401 });
    },
  );

  if (oidc.passkeysEnabled) {
    app.post(
      '/signin/passkey',
      {
        // Checks a credential: the same per-IP budget as the password and the code pages.
        onRequest: opts.passwordLimit,
        schema: {
          tags: ['openid'],
          summary: 'Sign in with a passkey (the sign-in pages\' passkey script submits this form)',
          description:
            'Form fields `response` (the browser\'s AuthenticationResponseJSON as a JSON string, for options from POST /signin/passkey/options), ' +
            '`csrf_token`, `authorize`, and on the second page `mfa_token`. Without `mfa_token` a user-verified passkey is a complete ' +
            'multi-factor sign-in (amr `hwk user mfa`); with it, the second step after the password. Then it continues like the password ' +
            'form: back to the app, or the consent page. A refused passkey counts like a wrong code.',
          consumes: ['application/x-www-form-urlencoded'],
          body: PasskeyForm,
          response: PAGE_RESPONSES,
        },
      },
      async (request, reply) => {
        const messages = messagesFor(request.headers['accept-language']);
        const body = request.body;
        if (!csrfValid(request, cookies, body.csrf_token, publicOrigin)) return errorPage(reply, messages, 'error.csrf');
        const params = body.authorize ? uncarry(body.authorize) : undefined;
        const factors = factorsOf(body.factors);
        const backToStart = async (key: MessageKey, status: number) =>
          signInPage(request, reply, messages, params, await oidc.clientName(params?.client_id), { error: messages.t(key), status });
        const response = await assertionOf(body.response);
        let result;
        if (!response) {
          result = { ok: false as const, retry: true };
        } else {
          try {
            result = await oidc.signInWithPasskey(response, body.mfa_token || undefined, clientContext(request));
          } catch (error) {
            const refused = signInRefusal(error, reply);
            if (!refused) throw error;
            return backToStart(refused.key, refused.status);
          }
        }
        if (result.ok) {
          setDeviceCookie(reply, result.deviceToken, opts.auth.deviceTokenTtlSeconds, base.startsWith('https:'));
          return signedInNow(request, reply, messages, result, params);
        }
        if (!body.mfa_token) return backToStart('passkey.failed', 401);
        if (result.retry) return secondFactorPage(request, reply, messages, body.mfa_token, body.authorize, factors, messages.t('passkey.failed.second'));
        return backToStart('second_factor.expired', 401);
      },
    );
  }

  app.post(
    '/consent',
    {
      schema: {
        tags: ['openid'],
        summary: 'The user\'s answer on the consent page',
        description: 'Form fields `decision` (`allow` or `deny`), `csrf_token`, `authorize`. Consent is remembered per user and client.',
        consumes: ['application/x-www-form-urlencoded'],
        body: PageForm,
        response: PAGE_RESPONSES,
      },
    },
    async (request, reply) => {
      const messages = messagesFor(request.headers['accept-language']);
      const body = request.body;
      if (!csrfValid(request, cookies, body.csrf_token, publicOrigin)) return errorPage(reply, messages, 'error.csrf');
      const session = await currentSession(request);
      if (!session) return errorPage(reply, messages, 'error.session_expired', 401);
      if (body.decision !== 'allow' && body.decision !== 'deny') return errorPage(reply, messages, 'error.csrf', 400);
      return answer(request, reply, await oidc.decide(uncarry(body.authorize), session, body.decision, clientContext(request)));
    },
  );

  async function endSession(request: FastifyRequest, reply: FastifyReply, params: Record<string, string | undefined>, confirmed: boolean): Promise<FastifyReply> {
    const messages = messagesFor(request.headers['accept-language']);
    const checked = await oidc.checkLogout(params);
    if (!checked.ok) return errorPage(reply, messages, `error.${checked.page}`);
    const session = await currentSession(request);
    // A valid hint for the browser's own session (or a confirmed form) logs out at once;
    // anything else asks first, so a link on another site cannot sign the user out.
    const hintMatches = checked.hintSid !== undefined && session !== undefined && checked.hintSid === session.id;
    if (!confirmed && !hintMatches && session !== undefined) {
      const csrf = csrfToken(request, reply, cookies);
      const origin = checked.redirect ? originOf(checked.redirect) : undefined;
      return sendPage(reply, {
        title: messages.t('logout.title'),
        messages,
        formTargets: origin ? [origin] : [],
        body: html`<p>${messages.t('logout.lead')}</p>
<form method="post" action="${at('/oauth/end-session')}">
${hidden('csrf_token', csrf)}${Object.entries(params)
          .filter(([k, v]) => v !== undefined && ['id_token_hint', 'post_logout_redirect_uri', 'client_id', 'state'].includes(k))
          .map(([k, v]) => hidden(k, v!))}
<button class="gh-primary" type="submit">${messages.t('logout.submit')}</button>
</form>`,
      });
    }
    if (session) {
      const ids = [session.id];
      if (checked.hintSid && checked.hintSub === String(session.user.id)) ids.push(checked.hintSid);
      await oidc.logout(ids, session.user.id, clientContext(request));
    } else if (checked.hintSid && checked.hintSub) {
      // No cookie (another browser, cookies cleared): the client's own hint still ends its sign-on session.
      await oidc.logout([checked.hintSid], Number(checked.hintSub), clientContext(request));
    }
    clearSessionCookie(reply, cookies);
    if (checked.redirect) return reply.code(303).header('cache-control', 'no-store').redirect(checked.redirect, 303);
    return sendPage(reply, { title: messages.t('logout.done.title'), messages, body: html`<p>${messages.t('logout.done')}</p>` });
  }

  const endSessionSchema = {
    tags: ['openid'],
    summary: 'RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)',
    description:
      'id_token_hint, post_logout_redirect_uri (must be registered for the client), state, client_id. Ends the sign-on session ' +
      'and every session of every client signed in through it; clients with a back-channel logout URI are told. ' +
      'Without a hint for the current session the user confirms first.',
    response: AUTHORIZATION_RESPONSES,
  };
  app.get('/oauth/end-session', { schema: { ...endSessionSchema, querystring: EndSessionParams } }, async (request, reply) =>
    endSession(request, reply, request.query, false),
  );
  app.post(
    '/oauth/end-session',
    { schema: { ...endSessionSchema, body: EndSessionParams, consumes: ['application/x-www-form-urlencoded'] } },
    async (request, reply) => {
      const body = request.body;
      const messages = messagesFor(request.headers['accept-language']);
      if (!csrfValid(request, cookies, body.csrf_token, publicOrigin)) return errorPage(reply, messages, 'error.csrf');
      return endSession(request, reply, body, true);
    },
  );
  }
}
