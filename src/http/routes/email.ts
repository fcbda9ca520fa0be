/**
 * Email verification and password reset. The mailed links open small HTML pages whose
 * form POSTs the token: a GET never consumes a token, so mail scanners that prefetch
 * links cannot burn them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
import { messagesFor, type MessageKey } from '../pages/messages.js';
import { hidden, html, sendPage, type Html } from '../pages/render.js';

export interface EmailRoutesOptions {
  auth: AuthService;
  emailFlows: EmailFlows;
  config: Readonly<Config>;
}

const ACCEPTED = 'If the address belongs to an account, a mail is on its way';

/** A browser's form navigation (Accept: text/html) gets a page back; API clients keep JSON. */
const wantsHtml = (request: FastifyRequest): boolean => (request.headers.accept ?? '').includes('text/html');

/** The mailed links' pages share the hosted pages' layout and stylesheet. */
function page(request: FastifyRequest, reply: FastifyReply, title: MessageKey | string, body: Html, status = 200): FastifyReply {
  const messages = messagesFor(request.headers['accept-language']);
  return sendPage(reply, { status, title: title.includes('.') ? messages.t(title as MessageKey) : title, body, messages });
}

/** The answer of a form the pages posted: a page for a browser, the JSON otherwise. */
async function answer(request: FastifyRequest, reply: FastifyReply, work: () => Promise<{ message: string }>): Promise<FastifyReply | { message: string }> {
  if (!wantsHtml(request)) return work();
  try {
    const { message } = await work();
    return page(request, reply, 'Done', html`<p>${message}</p>`);
  } catch (error) {
    if (!(error instanceof AppError) || error.status >= 500) throw error;
    return page(request, reply, 'error.title', html`<p class="gh-alert" role="alert">${error.detail}</p><p>Request a new link and try again.</p>`, error.status);
  }
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
        request,
        reply,
        'verify.title',
        html`<p>${messagesFor(request.headers['accept-language']).t('verify.lead')}</p><form method="post" action="${config.publicPath}/email/verify">${hidden('token', request.query.token ?? '')}<button class="gh-primary" type="submit">${messagesFor(request.headers['accept-language']).t('verify.submit')}</button></form>`,
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
    async (request, reply) =>
      answer(request, reply, async () => {
        await emailFlows.verifyEmail(request.body.token, clientContext(request));
        return { message: 'Email verified' };
      }),
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
        request,
        reply,
        'reset.title',
        html`<form method="post" action="${config.publicPath}/password/reset">${hidden('token', request.query.token ?? '')}<label>${messagesFor(request.headers['accept-language']).t('reset.password')}<input type="password" name="new_password" autocomplete="new-password" required></label><button class="gh-primary" type="submit">${messagesFor(request.headers['accept-language']).t('reset.submit')}</button></form>`,
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
    async (request, reply) =>
      answer(request, reply, async () => {
        await emailFlows.resetPassword(request.body.token, request.body.new_password, clientContext(request));
        return { message: 'Password reset; sign in with the new password' };
      }),
  );
}
