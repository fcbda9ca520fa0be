/**
 * RFC 7591 dynamic client registration, for clients that register themselves (MCP
 * clients). Off by default; the route exists only with the setting and an initial access
 * token. Such clients are always third-party: the user consents to each.
 */
import { newId } from '../../crypto/random.js';
import { isSupportedScope, parseScope, redirectUriProblem } from '../../domain/oidc.js';
import type { GrantType, IdTokenAlgorithm } from '../../domain/types.js';
import { AppError } from '../../errors/index.js';
import type { ClientRegistry } from '../client-registry.js';
import type { Clock } from '../ports.js';

export interface RegistrationMetadata {
  redirect_uris: string[];
  client_name?: string | undefined;
  token_endpoint_auth_method?: string | undefined;
  grant_types?: string[] | undefined;
  response_types?: string[] | undefined;
  scope?: string | undefined;
  post_logout_redirect_uris?: string[] | undefined;
  id_token_signed_response_alg?: string | undefined;
  backchannel_logout_uri?: string | undefined;
}

/** RFC 7591 §3.2.1 client information response. */
export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  client_secret_expires_at?: number;
  client_id_issued_at: number;
  client_name: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: string;
  scope: string;
  id_token_signed_response_alg: string;
  backchannel_logout_uri?: string;
}

export type RegistrationResult =
  | { ok: true; client: RegisteredClient }
  | { ok: false; error: 'invalid_redirect_uri' | 'invalid_client_metadata'; description: string };

const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'];
const ALGS: IdTokenAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];

export async function registerClient(clients: ClientRegistry, clock: Clock, metadata: RegistrationMetadata): Promise<RegistrationResult> {
  const invalid = (description: string): RegistrationResult => ({ ok: false, error: 'invalid_client_metadata', description });
  for (const uri of [...metadata.redirect_uris, ...(metadata.post_logout_redirect_uris ?? [])]) {
    const problem = redirectUriProblem(uri);
    if (problem) return { ok: false, error: 'invalid_redirect_uri', description: `${uri} ${problem}` };
  }
  const method = metadata.token_endpoint_auth_method ?? 'client_secret_basic';
  if (!AUTH_METHODS.includes(method)) return invalid(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
  const grants = metadata.grant_types ?? ['authorization_code'];
  if (!grants.includes('authorization_code') || grants.some((g) => g !== 'authorization_code' && g !== 'refresh_token')) {
    return invalid('grant_types may be authorization_code and refresh_token');
  }
  if (metadata.response_types !== undefined && metadata.response_types.some((t) => t !== 'code')) return invalid('response_types may only be code');
  const scopes = metadata.scope === undefined ? ['openid', 'profile', 'email'] : parseScope(metadata.scope).filter(isSupportedScope);
  const alg = (metadata.id_token_signed_response_alg ?? 'RS256') as IdTokenAlgorithm;
  if (!ALGS.includes(alg)) return invalid('id_token_signed_response_alg must be RS256, ES256 or EdDSA');
  const now = clock.now();
  try {
    const { client, secret } = await clients.create({
      id: `dyn-${newId()}`,
      name: metadata.client_name,
      grantTypes: grants as GrantType[],
      confidential: method !== 'none',
      now,
      redirectUris: metadata.redirect_uris,
      postLogoutRedirectUris: metadata.post_logout_redirect_uris ?? [],
      scopes,
      firstParty: false,
      idTokenAlg: alg,
      backchannelLogoutUri: metadata.backchannel_logout_uri ?? null,
    });
    return {
      ok: true,
      client: {
        client_id: client.id,
        ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
        client_id_issued_at: Math.floor(now.getTime() / 1000),
        client_name: client.name,
        redirect_uris: client.redirectUris,
        post_logout_redirect_uris: client.postLogoutRedirectUris,
        grant_types: client.grantTypes,
        response_types: ['code'],
        token_endpoint_auth_method: method,
        scope: client.scopes.join(' '),
        id_token_signed_response_alg: client.idTokenAlg,
        ...(client.backchannelLogoutUri ? { backchannel_logout_uri: client.backchannelLogoutUri } : {}),
      },
    };
  } catch (error) {
    if (error instanceof AppError) return invalid(error.extra.errors?.map((e) => `${e.field}: ${e.message}`).join('; ') ?? error.detail);
    throw error;
  }
}
