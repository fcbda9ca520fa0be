/** Every store, over one dialect seam: the database's scope, or a transaction's. */
import type { Stores, TransactionStores } from '../../../services/ports.js';
import type { Exec } from '../exec.js';
import { DrizzleAuditStore } from './audit.js';
import { DrizzleClientStore } from './clients.js';
import { DrizzleEmailTokenStore } from './email-tokens.js';
import { DrizzleImportStore } from './legacy-import.js';
import { DrizzleMfaStore } from './mfa.js';
import { DrizzleOidcStore } from './oidc.js';
import { DrizzleRevokedTokenStore } from './revoked-tokens.js';
import { DrizzleRevocationRecordStore } from './revocations.js';
import { DrizzleSessionStore, type SessionHotPaths } from './sessions.js';
import { DrizzleSigningKeyStore } from './signing-keys.js';
import { DrizzleUserStore } from './users.js';

/** Inside a transaction the batching hot paths are not offered (TransactionStores omits them). */
const NOT_IN_A_TRANSACTION: SessionHotPaths = {
  rotate: () => Promise.reject(new Error('rotate() runs its own transaction')),
  findLiveSessionUser: () => Promise.reject(new Error('findLiveSessionUser() is not part of a transaction')),
};

function scoped(x: Exec, hot: SessionHotPaths, recordLifetimeMs: number) {
  return {
    users: new DrizzleUserStore(x, recordLifetimeMs),
    sessions: new DrizzleSessionStore(x, hot, recordLifetimeMs),
    revokedTokens: new DrizzleRevokedTokenStore(x),
    signingKeys: new DrizzleSigningKeyStore(x),
    clients: new DrizzleClientStore(x),
    emailTokens: new DrizzleEmailTokenStore(x),
    audit: new DrizzleAuditStore(x),
    mfa: new DrizzleMfaStore(x),
    oidc: new DrizzleOidcStore(x, recordLifetimeMs),
  };
}

/**
 * A transaction's stores, each made when the body first uses it: a login's transaction
 * touches three of the nine, and every transaction would otherwise build all of them.
 */
function transactionStores(tx: Exec, recordLifetimeMs: number): TransactionStores {
  const makers: { [K in keyof TransactionStores]: () => TransactionStores[K] } = {
    users: () => new DrizzleUserStore(tx, recordLifetimeMs),
    sessions: () => new DrizzleSessionStore(tx, NOT_IN_A_TRANSACTION, recordLifetimeMs),
    revokedTokens: () => new DrizzleRevokedTokenStore(tx),
    signingKeys: () => new DrizzleSigningKeyStore(tx),
    clients: () => new DrizzleClientStore(tx),
    emailTokens: () => new DrizzleEmailTokenStore(tx),
    audit: () => new DrizzleAuditStore(tx),
    mfa: () => new DrizzleMfaStore(tx),
    oidc: () => new DrizzleOidcStore(tx, recordLifetimeMs),
  };
  const made: Partial<TransactionStores> = {};
  const stores = {} as TransactionStores;
  for (const name of Object.keys(makers) as Array<keyof TransactionStores>) {
    Object.defineProperty(stores, name, { enumerable: true, get: () => (made[name] ??= makers[name]() as never) });
  }
  return stores;
}

/** `recordLifetimeMs`: see DEFAULT_SESSION_RECORD_LIFETIME_MS (stores/revocations.ts). */
export function createStores(x: Exec, hot: SessionHotPaths, connection: Pick<Stores, 'ping' | 'close'>, recordLifetimeMs: number): Stores {
  return {
    ...scoped(x, hot, recordLifetimeMs),
    imports: new DrizzleImportStore(x),
    revocations: new DrizzleRevocationRecordStore(x),
    transaction: <T>(body: (tx: TransactionStores) => Promise<T>) => x.transaction((tx) => body(transactionStores(tx, recordLifetimeMs))),
    ...connection,
  };
}
