/** Sessions and account: list and end sessions, change the password, delete the account. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Session } from '../../domain/types.js';
import type { AccountService } from '../../services/account-service.js';
import type { AuthService } from '../../services/auth-service.js';
import { authenticate, principalOf } from '../plugins/authenticate.js';
import { DeleteMeBody, PasswordChangeBody, SessionIdParams, SessionOut } from '../schemas/account.js';
import { problems } from '../schemas/common.js';
import { BEARER_SECURITY, FORM_AND_JSON, clientContext } from '../route-helpers.js';

export interface AccountRoutesOptions {
  auth: AuthService;
  account: AccountService;
}


export default async function accountRoutes(instance: FastifyInstance, opts: AccountRoutesOptions) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { auth, account } = opts;
  // onRequest: an unauthenticated caller is refused before its body is even parsed.
  const onRequest = authenticate(auth);

  const sessionOut = (s: Session & { signedInClients: string[] }, currentId: string) => ({
    id: s.id,
    created_at: s.createdAt.toISOString(),
    last_used_at: s.lastUsedAt.toISOString(),
    user_agent: s.userAgent,
    ip: s.ip,
    current: s.id === currentId,
    amr: s.amr,
    client_id: s.clientId,
    signed_in_clients: s.signedInClients,
  });

  app.get(
    '/sessions',
    {
      onRequest,
      schema: {
        tags: ['account'],
        summary: 'The caller\'s active sessions',
        security: BEARER_SECURITY,
        response: { 200: Type.Array(SessionOut), ...problems(401) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return (await account.listSessions(principal)).map((s) => sessionOut(s, principal.sessionId));
    },
  );

  app.delete(
    '/sessions/:id',
    {
      onRequest,
      schema: {
        tags: ['account'],
        summary: 'End one of the caller\'s sessions',
        description: 'Its access and refresh tokens stop working at once. Another user\'s session id answers 404.',
        security: BEARER_SECURITY,
        params: SessionIdParams,
        response: { 204: Type.Null({ description: 'Revoked' }), ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      await account.revokeSession(principalOf(request), request.params.id, clientContext(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/logout/all',
    {
      onRequest,
      schema: {
        tags: ['account'],
        summary: 'End every session of the caller, this one included',
        security: BEARER_SECURITY,
        response: { 200: Type.Object({ message: Type.String(), revoked: Type.Integer() }), ...problems(401) },
      },
    },
    async (request) => {
      const revoked = await account.logoutAll(principalOf(request), clientContext(request));
      return { message: 'Logged out of every session', revoked };
    },
  );

  app.post(
    '/password/change',
    {
      onRequest,
      schema: {
        tags: ['account'],
        summary: 'Change the password (needs the current one)',
        description: 'Every other session is revoked; the caller\'s session keeps working. Wrong current passwords are throttled like failed logins.',
        security: BEARER_SECURITY,
        consumes: FORM_AND_JSON,
        body: PasswordChangeBody,
        response: { 200: Type.Object({ message: Type.String() }), ...problems(400, 401, 403, 429) },
        // RFC 9470 step-up for users with a second factor: see the description.
      },
    },
    async (request) => {
      const { current_password, new_password } = request.body;
      await account.changePassword(principalOf(request), { currentPassword: current_password, newPassword: new_password }, clientContext(request));
      return { message: 'Password changed' };
    },
  );

  app.delete(
    '/me',
    {
      onRequest,
      schema: {
        tags: ['account'],
        summary: 'Delete the account (needs the password)',
        description: 'Removes the user and every session; the username and email become free again.',
        security: BEARER_SECURITY,
        consumes: FORM_AND_JSON,
        body: DeleteMeBody,
        response: { 204: Type.Null({ description: 'Deleted' }), ...problems(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      await account.deleteAccount(principalOf(request), request.body.password, clientContext(request));
      return reply.code(204).send(null);
    },
  );
}
