/**
 * Stores on a real database for the store-level suites (test/storage): a SQLite file in a
 * temp dir, or a PostgreSQL schema named after it, whichever dialect the run is on.
 */
import type { TestContext } from 'node:test';
import { StorageUnavailableError } from '../../src/errors/unavailable.js';
import type { Stores, TransactionStores } from '../../src/services/ports.js';
import { openStores } from '../../src/storage/index.js';
import { DIALECT, databaseUrlFor, tempDir } from './app.js';

export async function openTestStores(t: TestContext, options: { dir?: string; poolSize?: number; server?: boolean } = {}): Promise<{ stores: Stores; dir: string }> {
  const dir = options.dir ?? tempDir(t);
  const url = databaseUrlFor(dir);
  const stores = await openStores(DIALECT === 'sqlite' ? { kind: 'sqlite', path: url.slice('file:'.length) } : { kind: 'postgres', url, poolSize: options.poolSize ?? 4 }, { server: options.server ?? false });
  t.after(() => stores.close());
  return { stores, dir };
}

/** The methods of the transaction's stores that write. */
const WRITES = new Set([
  'create',
  'updatePasswordHash',
  'delete',
  'markEmailVerified',
  'consume',
  'invalidateAll',
  'revoke',
  'revokeOwned',
  'revokeAllForUser',
  'append',
  'ensureActive',
  'activatePending',
  'insertActive',
  'deleteFactor',
  'deleteAllForUser',
  'replaceRecoveryCodes',
  'deleteRecoveryCodes',
  'useRecoveryCode',
  'recordTotpStep',
  'touchFactor',
  'consumeChallenge',
]);

/**
 * The stores, except that inside a transaction the Nth write (counted from `arm(n)`)
 * throws as a database outage would, after the earlier writes of that transaction went
 * through: what persists afterwards shows whether the use case is all or nothing.
 */
export function failingOnWrite(inner: Stores): { stores: Stores; arm(n: number): void; writes(): number } {
  let failAt = 0;
  let count = 0;
  const wrapTx = (tx: TransactionStores): TransactionStores => {
    const wrapped: Record<string, unknown> = {};
    for (const [name, store] of Object.entries(tx)) {
      wrapped[name] = new Proxy(store as object, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver) as unknown;
          if (typeof value !== 'function' || typeof key !== 'string' || !WRITES.has(key)) return value;
          return async (...args: unknown[]) => {
            count++;
            if (count === failAt) throw new StorageUnavailableError('database', { cause: new Error(`injected failure of write ${count} (${name}.${key})`) });
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    }
    return wrapped as unknown as TransactionStores;
  };
  const stores: Stores = Object.create(inner) as Stores;
  stores.transaction = (body) => inner.transaction((tx) => body(wrapTx(tx)));
  return {
    stores,
    arm(n) {
      failAt = n;
      count = 0;
    },
    writes: () => count,
  };
}
