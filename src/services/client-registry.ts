/**
 * OAuth clients: the built-in public default (`gatehouse`, what the original endpoints
 * act as) and the registered ones. Client authentication (RFC 6749 §2.3) lives here.
 */
import { timingSafeEqual } from 'node:crypto';
import { hashToken, randomSecret } from '../crypto/random.js';
import type { GrantType, OAuthClient } from '../domain/types.js';
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
  constructor(private readonly store: ClientStore) {}

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
    name?: string;
    grantTypes: GrantType[];
    audience?: string | null;
    confidential: boolean;
    now: Date;
  }): Promise<{ client: OAuthClient; secret: string | undefined }> {
    if (!CLIENT_ID.test(input.id) || input.id === DEFAULT_CLIENT_ID) {
      throw new AppError('validation_failed', 'Client ids are 1-64 of A-Z a-z 0-9 . _ ~ - and not "gatehouse"');
    }
    const secret = input.confidential ? randomSecret(32) : undefined;
    const client: OAuthClient = {
      id: input.id,
      name: input.name ?? input.id,
      secretHash: secret === undefined ? null : hashToken(secret),
      grantTypes: input.grantTypes,
      audience: input.audience ?? null,
      createdAt: input.now,
    };
    await this.store.create(client);
    return { client, secret };
  }

  list(): Promise<OAuthClient[]> {
    return this.store.list();
  }

  delete(id: string): Promise<boolean> {
    return this.store.delete(id);
  }
}
