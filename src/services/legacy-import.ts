/**
 * Moving users over from the original FastAPI service: their bcrypt hashes come along
 * (upgraded to argon2id at each user's first login), ids are kept where free, and the
 * original's blacklisted tokens stay refused during the transition.
 */
import { emailKey, normalizeUsername, usernameKey } from '../domain/identity.js';
import { legacyTokenId } from './legacy-tokens.js';
import type { ImportReport, ImportStore } from './ports.js';

export interface LegacySource {
  users: Array<{ id: number; username: string; email: string; password: string }>;
  blacklist: Array<{ token: string; expiresAt: Date }>;
}

/**
 * `clockSkewSeconds`: original tokens are accepted until their exp plus the skew, so their
 * revocations are kept (and imported) until then too.
 */
export async function importLegacyUsers(store: ImportStore, source: LegacySource, now: Date, dryRun: boolean, clockSkewSeconds = 0): Promise<ImportReport> {
  const users = source.users.map((u) => {
    const username = normalizeUsername(u.username.trim());
    return { id: u.id, legacyUsername: u.username, username, usernameKey: usernameKey(username), email: u.email.trim(), emailKey: emailKey(u.email), passwordHash: u.password };
  });
  const revokedTokens = source.blacklist
    .map((b) => ({ jti: legacyTokenId(b.token), expiresAt: new Date(b.expiresAt.getTime() + clockSkewSeconds * 1000) }))
    .filter((b) => b.expiresAt.getTime() > now.getTime());
  return store.importLegacy({ users, revokedTokens, now, dryRun });
}
