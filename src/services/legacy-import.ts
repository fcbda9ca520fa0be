/**
 * Moving users over from the original FastAPI service: their bcrypt hashes come along
 * (upgraded to argon2id at each user's first login), ids are kept where free, and the
 * original's blacklisted tokens stay refused during the transition.
 */
import { emailKey, normalizeUsername, usernameKey } from '../domain/identity.js';
import { legacyTokenId } from './legacy-tokens.js';
import type { ImportReport, ImportStore, LegacyRevokedToken, LegacyUser } from './ports.js';

interface OriginalUser {
  id: number;
  username: string;
  email: string;
  password: string;
}

/** The original's rows, read batch by batch (storage/legacy reads its database so). */
export interface LegacySource {
  userBatches(): Iterable<OriginalUser[]>;
  usersById(ids: readonly number[]): OriginalUser[];
  blacklistBatches(): Iterable<Array<{ token: string; expiresAt: Date }>>;
}

function toLegacyUser(u: OriginalUser): LegacyUser {
  const username = normalizeUsername(u.username.trim());
  return { id: u.id, legacyUsername: u.username, username, usernameKey: usernameKey(username), email: u.email.trim(), emailKey: emailKey(u.email), passwordHash: u.password };
}

function* mapBatches<T, U>(batches: Iterable<T[]>, map: (batch: T[]) => U[]): Generator<U[]> {
  for (const batch of batches) yield map(batch);
}

/**
 * `clockSkewSeconds`: original tokens are accepted until their exp plus the skew, so their
 * revocations are kept (and imported) until then too.
 */
export async function importLegacyUsers(store: ImportStore, source: LegacySource, now: Date, dryRun: boolean, clockSkewSeconds = 0): Promise<ImportReport> {
  const tokens = (batch: Array<{ token: string; expiresAt: Date }>): LegacyRevokedToken[] =>
    batch
      .map((b) => ({ jti: legacyTokenId(b.token), expiresAt: new Date(b.expiresAt.getTime() + clockSkewSeconds * 1000) }))
      .filter((b) => b.expiresAt.getTime() > now.getTime());
  return store.importLegacy({
    users: {
      batches: () => mapBatches(source.userBatches(), (batch) => batch.map(toLegacyUser)),
      byIds: (ids) => source.usersById(ids).map(toLegacyUser),
    },
    revokedTokens: { batches: () => mapBatches(source.blacklistBatches(), tokens) },
    now,
    dryRun,
  });
}
