/**
 * OAuth clients: the built-in public default (`gatehouse`, what the original endpoints
 * act as) and the registered ones. Client authentication (RFC 6749 §2.3) lives here.
 */
import { timingSafeEqual } from 'node:crypto';
import { hashToken, randomSecret } from '../crypto/random.js';
import { isSupportedScope, redirectUriProblem } from '../domain/oidc.js';
import type { GrantType, IdTokenAlgorithm, OAuthClient } from '../domain/types.js';
import { AppError } from '../errors/index.js';
import type { ClientStore } from './ports.js';

export const DEFAULT_CLIENT_ID = 'gatehouse';

export const DEFAULT_CLIENT: OAuthClient = Object.freeze({
  id: DEFAULT_CLIENT_ID,
  name: 'Gatehouse default public client',
  secretHash: null,
  grantTypes: ['password', 'refresh_token'] as GrantType[],
  audience: null,
  createdAt: new Date(0),
  redirectUris: [],
  postLogoutRedirectUris: [],
  scopes: [],
  firstParty: true,
  idTokenAlg: 'RS256',
  backchannelLogoutUri: null,
});

export interface ClientCredentials {
  clientId?: string | undefined;
  clientSecret?: string | undefined;
}

const CLIENT_ID = /^[A-Za-z0-9._~-]{1,64}$/;

function invalidClient(): AppError {
  return new AppError('invalid_client', 'Client authentication failed');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class ClientRegistry {
  constructor(
    private readonly store: ClientStore,
    /**
     * Makes (or finds) the signing key of an ID-token algorithm. A client's key exists from
     * its registration on: it is in the JWKS every instance serves (within their key reload)
     * before it signs the client's first ID token, rather than made and signed with at once
     * on that sign-in, which a relying party holding a key set fetched earlier meets as an
     * unknown kid. With ALGORITHM=HS256 it is also what makes the JWKS appear at all.
     */
    private readonly prepareIdTokenKey: (alg: IdTokenAlgorithm) => Promise<void>,
  ) {}

  /** Who is calling: the default client when none is named, else a registered one whose secret matches. */
  async authenticate(credentials: ClientCredentials): Promise<OAuthClient> {
    const { clientId, clientSecret } = credentials;
    if (clientId === undefined || clientId === '') {
      if (clientSecret) throw invalidClient();
      return DEFAULT_CLIENT;
    }
    if (clientId === DEFAULT_CLIENT_ID) {
      if (clientSecret) throw invalidClient();
      return DEFAULT_CLIENT;
    }
    const client = CLIENT_ID.test(clientId) ? await this.store.find(clientId) : undefined;
    // Hash the presented secret even for an unknown client: no timing hint either way.
    const presented = hashToken(clientSecret ?? '');
    if (!client) throw invalidClient();
    if (client.secretHash === null) {
      if (clientSecret) throw invalidClient();
      return client;
    }
    if (!clientSecret || !sameHash(presented, client.secretHash)) throw invalidClient();
    return client;
  }

  /** Introspection is for resource servers that hold a secret. */
  async authenticateConfidential(credentials: ClientCredentials): Promise<OAuthClient> {
    const client = await this.authenticate(credentials);
    if (client.secretHash === null) throw invalidClient();
    return client;
  }

  assertGrant(client: OAuthClient, grant: GrantType): void {
    if (!client.grantTypes.includes(grant)) {
      throw new AppError('unauthorized_client', `This client may not use the ${grant} grant`);
    }
  }

  async create(input: {
    id: string;
    name?: string | undefined;
    grantTypes: GrantType[];
    audience?: string | null | undefined;
    confidential: boolean;
    now: Date;
    redirectUris?: string[] | undefined;
    postLogoutRedirectUris?: string[] | undefined;
    scopes?: string[] | undefined;
    firstParty?: boolean | undefined;
    idTokenAlg?: IdTokenAlgorithm | undefined;
    backchannelLogoutUri?: string | null | undefined;
  }): Promise<{ client: OAuthClient; secret: string | undefined }> {
    if (!CLIENT_ID.test(input.id) || input.id === DEFAULT_CLIENT_ID) {
      throw new AppError('validation_failed', 'Client ids are 1-64 of A-Z a-z 0-9 . _ ~ - and not "gatehouse"');
    }
    const redirectUris = input.redirectUris ?? [];
    const postLogoutRedirectUris = input.postLogoutRedirectUris ?? [];
    const errors = [
      ...redirectUris.map((uri) => ({ field: 'redirect_uri', uri, problem: redirectUriProblem(uri) })),
      ...postLogoutRedirectUris.map((uri) => ({ field: 'post_logout_redirect_uri', uri, problem: redirectUriProblem(uri) })),
      ...(input.backchannelLogoutUri ? [{ field: 'backchannel_logout_uri', uri: input.backchannelLogoutUri, problem: redirectUriProblem(input.backchannelLogoutUri) }] : []),
    ]
      .filter((e) => e.problem !== undefined)
      .map((e) => ({ field: e.field, message: `${e.uri} ${e.problem}` }));
    const scopes = input.scopes ?? (redirectUris.length > 0 ? ['openid', 'profile', 'email'] : []);
    const unknownScopes = scopes.filter((s) => !isSupportedScope(s));
    if (unknownScopes.length > 0) errors.push({ field: 'scopes', message: `unsupported: ${unknownScopes.join(' ')} (openid profile email offline_access)` });
    if (input.grantTypes.includes('authorization_code') && redirectUris.length === 0) {
      errors.push({ field: 'redirect_uri', message: 'the authorization_code grant needs at least one redirect URI' });
    }
    if (errors.length > 0) throw new AppError('validation_failed', 'The client registration is invalid', { errors });
    const secret = input.confidential ? randomSecret(32) : undefined;
    const client: OAuthClient = {
      id: input.id,
      name: input.name ?? input.id,
      secretHash: secret === undefined ? null : hashToken(secret),
      grantTypes: input.grantTypes,
      audience: input.audience ?? null,
      createdAt: input.now,
      redirectUris,
      postLogoutRedirectUris,
      scopes,
      firstParty: input.firstParty ?? false,
      idTokenAlg: input.idTokenAlg ?? 'RS256',
      backchannelLogoutUri: input.backchannelLogoutUri ?? null,
    };
    // The key first: a client is never registered without the key its ID tokens need.
    if (redirectUris.length > 0) await this.prepareIdTokenKey(client.idTokenAlg);
    await this.store.create(client);
    return { client, secret };
  }

  /** A registered client by id, without authenticating it (the authorization endpoint). */
  async find(id: string | undefined): Promise<OAuthClient | undefined> {
    if (id === undefined || !CLIENT_ID.test(id) || id === DEFAULT_CLIENT_ID) return undefined;
    return this.store.find(id);
  }

  list(): Promise<OAuthClient[]> {
    return this.store.list();
  }

  delete(id: string): Promise<boolean> {
    return this.store.delete(id);
  }
}
