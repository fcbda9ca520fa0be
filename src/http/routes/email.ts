/**
 * Email verification and password reset. The mailed links open small HTML pages whose
 * form POSTs the token: a GET never consumes a token, so mail scanners that prefetch
 * links cannot burn them.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config/index.js';
import { AppError } from '../../errors/index.js';
import type { AuthService } from '../../services/auth-service.js';
import type { EmailFlows } from '../../services/email-flows.js';
import { bearerToken } from '../plugins/authenticate.js';
import { problems } from '../schemas/common.js';
import { ForgotBody, ResetBody, TokenBody, TokenQuery, VerifyRequestBody } from '../schemas/email.js';
import { FORM_AND_JSON, clientContext, emptyBodyAsObject } from '../route-helpers.js';

export interface EmailRoutesOptions {
  auth: AuthService;
  emailFlows: EmailFlows;
  config: Readonly<Config>;
}

const ACCEPTED = 'If the address belongs to an account, a mail is on its way';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(reply: FastifyReply, title: string, form: string): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${form}</body></html>`);
}

export default async function emailRoutes(instance: FastifyInstance, opts: EmailRoutesOptions) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { auth, emailFlows, config } = opts;
  const perHour = (max: number) => ({ rateLimit: { max, timeWindow: 3_600_000 } });

  app.post(
    '/email/verify/request',
    {
      config: perHour(config.email.forgotPerHour),
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['account'],
        summary: 'Send a new email verification link',
        description:
          'With a Bearer token: to the caller\'s address. Without one: to `email`, answering 202 alike whether or not ' +
          'it belongs to an account. Limited per IP and per address.',
        consumes: FORM_AND_JSON,
        body: VerifyRequestBody,
        response: { 202: Type.Object({ message: Type.String() }), ...problems(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const client = clientContext(request);
      if (request.headers.authorization) {
        const principal = await auth.authenticate(bearerToken(request));
        await emailFlows.requestVerification(auth.currentUser(principal), client);
      } else {
        if (!request.body.email) {
          throw new AppError('validation_failed', 'The request has invalid fields', {
            errors: [{ field: 'email', message: 'is required without a Bearer token' }],
          });
        }
        emailFlows.requestVerificationByAddress(request.body.email, client);
      }
      return reply.code(202).send({ message: ACCEPTED });
    },
  );

  app.get(
    '/email/verify',
    {
      schema: {
        tags: ['account'],
        summary: 'The page the verification mail links to',
        description: 'An HTML page whose button POSTs the token to /email/verify. A GET consumes nothing (mail scanners prefetch links).',
        produces: ['text/html'],
        querystring: TokenQuery,
        response: { 200: Type.String({ description: 'HTML' }) },
      },
    },
    async (request, reply) =>
      page(
        reply,
        'Verify your email address',
        `<form method="post" action="/email/verify"><input type="hidden" name="token" value="${escapeHtml(request.query.token ?? '')}"><button type="submit">Verify my email address</button></form>`,
      ),
  );

  app.post(
    '/email/verify',
    {
      config: { rateLimit: { max: 30, timeWindow: 60_000 } },
      schema: {
        tags: ['account'],
        summary: 'Consume an email verification token',
        description: 'Single use; expires (EMAIL_VERIFY_TOKEN_TTL_HOURS, 24 by default).',
        consumes: FORM_AND_JSON,
        body: TokenBody,
        response: { 200: Type.Object({ message: Type.String() }), ...problems(400, 429) },
      },
    },
    async (request) => {
      await emailFlows.verifyEmail(request.body.token, clientContext(request));
      return { message: 'Email verified' };
    },
  );

  app.post(
    '/password/forgot',
    {
      config: perHour(config.email.forgotPerHour),
      schema: {
        tags: ['account'],
        summary: 'Mail a password-reset link',
        description: 'Answers the same 202, in about the same time, whether or not the address belongs to an account.',
        consumes: FORM_AND_JSON,
        body: ForgotBody,
        response: { 202: Type.Object({ message: Type.String() }), ...problems(400, 429) },
      },
    },
    async (request, reply) => {
      emailFlows.requestPasswordReset(request.body.email, clientContext(request));
      return reply.code(202).send({ message: ACCEPTED });
    },
  );

  app.get(
    '/password/reset',
    {
      schema: {
        tags: ['account'],
        summary: 'The page the reset mail links to',
        description: 'An HTML form that POSTs the token and the new password to /password/reset. A GET consumes nothing.',
        produces: ['text/html'],
        querystring: TokenQuery,
        response: { 200: Type.String({ description: 'HTML' }) },
      },
    },
    async (request, reply) =>
      page(
        reply,
        'Choose a new password',
        `<form method="post" action="/password/reset"><input type="hidden" name="token" value="${escapeHtml(request.query.token ?? '')}">` +
          `<label>New password <input type="password" name="new_password" autocomplete="new-password" required></label> <button type="submit">Set password</button></form>`,
      ),
  );

  app.post(
    '/password/reset',
    {
      config: { rateLimit: { max: 30, timeWindow: 60_000 } },
      schema: {
        tags: ['account'],
        summary: 'Set a new password with a reset token',
        description: 'Single use; expires (PASSWORD_RESET_TOKEN_TTL_MINUTES, 30 by default). Revokes every session.',
        consumes: FORM_AND_JSON,
        body: ResetBody,
        response: { 200: Type.Object({ message: Type.String() }), ...problems(400, 429) },
      },
    },
    async (request) => {
      await emailFlows.resetPassword(request.body.token, request.body.new_password, clientContext(request));
      return { message: 'Password reset; sign in with the new password' };
    },
  );
}
