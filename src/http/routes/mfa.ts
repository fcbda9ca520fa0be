/** Second factors: TOTP, passkeys, recovery codes, and the second step of a login. Thin. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { Type } from 'typebox';
import type { Config } from '../../config/index.js';
import type { MfaFactor } from '../../domain/types.js';
import type { AuthService } from '../../services/auth-service.js';
import type { MfaService } from '../../services/mfa-service.js';
import type { PasskeyService } from '../../services/passkeys.js';
import { authenticate, principalOf } from '../plugins/authenticate.js';
import { tokenAnswers } from '../login-answer.js';
import type { PasswordCheckLimit } from '../password-rate-limit.js';
import { problems } from '../schemas/common.js';
import {
  FactorActivated,
  FactorIdParams,
  FactorOut,
  MfaLoginBody,
  PasswordBody,
  RecoveryCodesOut,
  TotpActivateBody,
  TotpEnrolment,
  WebAuthnLoginBody,
  WebAuthnLoginOptionsBody,
  WebAuthnOptions,
  WebAuthnRegisterBody,
} from '../schemas/mfa.js';
import { BEARER_SECURITY as bearer, FORM_AND_JSON, clientContext, emptyBodyAsObject, noStore } from '../route-helpers.js';

export interface MfaRoutesOptions {
  auth: AuthService;
  mfa: MfaService;
  /** Undefined when PUBLIC_URL is a bare IP without WEBAUTHN_RP_ID (browsers refuse it). */
  passkeys: PasskeyService | undefined;
  config: Readonly<Config>;
  /** The per-IP budget of password checks: a code guess draws from it too (password-rate-limit.ts). */
  passwordLimit: PasswordCheckLimit;
}

const STEP_UP =
  ' Needs a session that passed MFA: otherwise `401` with `WWW-Authenticate: Bearer error="insufficient_user_authentication"` (RFC 9470).';

const factorOut = (f: MfaFactor) => ({
  id: f.id,
  type: f.type,
  name: f.name,
  created_at: f.createdAt.toISOString(),
  last_used_at: f.lastUsedAt?.toISOString() ?? null,
});

export default async function mfaRoutes(instance: FastifyInstance, opts: MfaRoutesOptions) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { auth, mfa, passkeys, config, passwordLimit } = opts;
  const onRequest = authenticate(auth);
  // Second steps guess codes: the same per-IP budget as password checks.
  const loginLimit = { rateLimit: { max: config.rateLimit.loginPerMinute, timeWindow: 60_000 } };
  // Unauthenticated ceremony starts write a challenge row: bounded per IP.
  const ceremonyLimit = { rateLimit: { max: Math.max(30, config.rateLimit.loginPerMinute), timeWindow: 60_000 } };
  // A completed second step or passkey login answers as /login does (device token, cookie mode).
  const answers = tokenAnswers(config, auth.deviceTokenTtlSeconds);

  app.post(
    '/mfa/totp',
    {
      onRequest,
      schema: {
        tags: ['mfa'],
        summary: 'Start a TOTP enrolment (needs the password)',
        description: 'Returns the seed and an otpauth:// URI; the factor stays pending until POST /mfa/totp/activate. A new request replaces an unfinished one.',
        security: bearer,
        consumes: FORM_AND_JSON,
        body: PasswordBody,
        response: { 201: TotpEnrolment, ...problems(400, 401, 403, 429, 503) },
      },
    },
    async (request, reply) => {
      const enrolment = await mfa.startTotp(principalOf(request), request.body.password, clientContext(request));
      noStore(reply);
      return reply.code(201).send(enrolment);
    },
  );

  app.post(
    '/mfa/totp/activate',
    {
      onRequest,
      schema: {
        tags: ['mfa'],
        summary: 'Activate a pending TOTP factor with its first code',
        description:
          'With the first active factor come ten recovery codes (shown this once), and every other session of the user ends: they never passed MFA.',
        security: bearer,
        consumes: FORM_AND_JSON,
        body: TotpActivateBody,
        response: { 200: FactorActivated, ...problems(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const { factor_id, code } = request.body;
      noStore(reply);
      return mfa.activateTotp(principalOf(request), factor_id, code, clientContext(request));
    },
  );

  app.get(
    '/mfa/factors',
    {
      onRequest,
      schema: {
        tags: ['mfa'],
        summary: "The caller's active second factors",
        security: bearer,
        response: { 200: Type.Array(FactorOut), ...problems(401) },
      },
    },
    async (request) => (await mfa.listFactors(principalOf(request))).map(factorOut),
  );

  app.delete(
    '/mfa/factors/:id',
    {
      onRequest,
      schema: {
        tags: ['mfa'],
        summary: 'Remove a second factor (needs the password)',
        description: 'With the last factor the recovery codes go too.' + STEP_UP,
        security: bearer,
        consumes: FORM_AND_JSON,
        params: FactorIdParams,
        body: PasswordBody,
        response: { 204: Type.Null({ description: 'Removed' }), ...problems(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      await mfa.removeFactor(principalOf(request), request.params.id, request.body.password, clientContext(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/mfa/recovery-codes',
    {
      onRequest,
      schema: {
        tags: ['mfa'],
        summary: 'Replace the recovery codes (needs the password)',
        description: 'Ten new single-use codes, shown this once; the old ones stop working.' + STEP_UP,
        security: bearer,
        consumes: FORM_AND_JSON,
        body: PasswordBody,
        response: { 200: RecoveryCodesOut, ...problems(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return { recovery_codes: await mfa.regenerateRecoveryCodes(principalOf(request), request.body.password, clientContext(request)) };
    },
  );

  app.post(
    '/login/mfa',
    {
      onRequest: passwordLimit,
      schema: {
        tags: ['auth'],
        summary: 'Second step of a login: mfa_token and a TOTP code or a recovery code',
        description:
          'A wrong code is `401 invalid_mfa_code` and counts toward the account throttle like a wrong password; after 5 the mfa_token is dead (`401 invalid_mfa_token`). A TOTP code is accepted once only, on every instance.',
        consumes: FORM_AND_JSON,
        body: MfaLoginBody,
        ...answers.cookieHeaders,
        response: { 200: answers.loginResponse, ...problems(400, 401, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const { mfa_token, code, recovery_code } = request.body;
      return answers.login(request, reply, await mfa.loginWithCode({ mfaToken: mfa_token, code, recoveryCode: recovery_code }, clientContext(request)));
    },
  );

  if (!passkeys) return;

  app.post(
    '/webauthn/register/options',
    {
      onRequest,
      schema: {
        tags: ['mfa'],
        summary: 'Options for registering a passkey (needs the password)',
        description: 'Pass them to navigator.credentials.create() (e.g. @simplewebauthn/browser startRegistration).',
        security: bearer,
        consumes: FORM_AND_JSON,
        body: PasswordBody,
        response: { 200: WebAuthnOptions, ...problems(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return passkeys.registrationOptions(principalOf(request), request.body.password, clientContext(request));
    },
  );

  app.post(
    '/webauthn/register',
    {
      onRequest,
      schema: {
        tags: ['mfa'],
        summary: 'Register a passkey',
        description:
          '`response` is the browser\'s RegistrationResponseJSON. With the first active factor come ten recovery codes, and every other session ends.',
        security: bearer,
        body: WebAuthnRegisterBody,
        response: { 201: FactorActivated, ...problems(400, 401) },
      },
    },
    async (request, reply) => {
      const { response, name } = request.body;
      const registered = await passkeys.register(principalOf(request), response as unknown as RegistrationResponseJSON, name, clientContext(request));
      noStore(reply);
      return reply.code(201).send(registered);
    },
  );

  app.post(
    '/webauthn/login/options',
    {
      config: ceremonyLimit,
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['auth'],
        summary: 'Options for a passkey login',
        description:
          'Without `mfa_token`: no allowCredentials (discoverable credentials, no username) and user verification required. With it: the user\'s passkeys, as the second step after a password.',
        consumes: FORM_AND_JSON,
        body: WebAuthnLoginOptionsBody,
        response: { 200: WebAuthnOptions, ...problems(400, 401, 429) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return passkeys.loginOptions(request.body.mfa_token);
    },
  );

  app.post(
    '/webauthn/login',
    {
      config: loginLimit,
      schema: {
        tags: ['auth'],
        summary: 'Log in with a passkey',
        description:
          '`response` is the browser\'s AuthenticationResponseJSON. Without `mfa_token` a user-verified passkey is a complete multi-factor login; with it, the second step after a password. A signature counter that did not move forward (a cloned authenticator) is refused.',
        body: WebAuthnLoginBody,
        ...answers.cookieHeaders,
        response: { 200: answers.loginResponse, ...problems(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const { response, mfa_token } = request.body;
      return answers.login(request, reply, await passkeys.login(response as unknown as AuthenticationResponseJSON, mfa_token, clientContext(request)));
    },
  );
}
