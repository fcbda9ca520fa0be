/**
 * `gatehouse clients create`: registers an OAuth client and prints its secret once; with
 * --redirect-uri (repeatable) an OpenID Connect client (--first-party, --scopes,
 * --post-logout-redirect-uri, --id-token-alg, --backchannel-logout-uri).
 */
import { parseArgs } from 'node:util';
import type { GrantType } from '../../domain/types.js';
import { withServices, type Command } from '../command.js';

const GRANTS: readonly GrantType[] = ['authorization_code', 'password', 'refresh_token'];

export const clientsCreateCommand: Command = async (args, config) => {
  const { values } = parseArgs({
    args,
    options: {
      id: { type: 'string' },
      name: { type: 'string' },
      grants: { type: 'string' },
      audience: { type: 'string' },
      public: { type: 'boolean', default: false },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      'backchannel-logout-uri': { type: 'string' },
      scopes: { type: 'string' },
      'first-party': { type: 'boolean', default: false },
      'id-token-alg': { type: 'string', default: 'RS256' },
    },
    strict: true,
  });
  const id = values.id;
  if (!id) {
    console.error('clients create needs --id');
    return 2;
  }
  const redirectUris = values['redirect-uri'] ?? [];
  // A client with redirect URIs signs users in through OpenID Connect by default.
  const grants = (values.grants ?? (redirectUris.length > 0 ? 'authorization_code,refresh_token' : 'password,refresh_token')).split(',').map((g) => g.trim());
  const unknown = grants.filter((g) => !(GRANTS as readonly string[]).includes(g));
  if (unknown.length > 0) {
    console.error(`unsupported grants: ${unknown.join(', ')} (${GRANTS.join(', ')})`);
    return 2;
  }
  const alg = values['id-token-alg'];
  if (alg !== 'RS256' && alg !== 'ES256' && alg !== 'EdDSA') {
    console.error(`--id-token-alg must be RS256, ES256 or EdDSA, not ${alg}`);
    return 2;
  }
  const { client, secret } = await withServices(config, ({ clients, clock }) =>
    clients.create({
      id,
      name: values.name,
      grantTypes: grants as GrantType[],
      audience: values.audience ?? null,
      confidential: !values.public,
      now: clock.now(),
      redirectUris,
      postLogoutRedirectUris: values['post-logout-redirect-uri'] ?? [],
      backchannelLogoutUri: values['backchannel-logout-uri'] ?? null,
      scopes: values.scopes === undefined ? undefined : values.scopes.split(/[\s,]+/).filter((s) => s !== ''),
      firstParty: values['first-party'],
      idTokenAlg: alg,
    }),
  );
  console.log(`client_id=${client.id}`);
  if (secret) console.log(`client_secret=${secret}`);
  return 0;
};
