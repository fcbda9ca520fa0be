/** PostgreSQL tables: the same model as schema/sqlite.ts, in native types. */
import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const at = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });

export const users = pgTable('users', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  username: text('username').notNull(),
  /** NFKC + lower case: uniqueness is case-insensitive. */
  usernameKey: text('username_key').notNull().unique(),
  email: text('email').notNull(),
  emailKey: text('email_key').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  emailVerified: boolean('email_verified').notNull().default(false),
  /** The username in the original FastAPI service, exactly (set by `gatehouse import`). */
  legacyUsername: text('legacy_username').unique(),
  /** Original-service tokens issued before this are void (a password change, reset or logout-all). */
  legacyTokensVoidBefore: at('legacy_tokens_void_before'),
  createdAt: at('created_at').notNull(),
  updatedAt: at('updated_at').notNull(),
});

/** One row per refresh-token family (a login). The id is the `sid` claim. */
export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The OAuth client the session was issued to; its refresh token works for it alone. */
    clientId: text('client_id').notNull().default('gatehouse'),
    /** Not indexed: a token is found through refresh_token_hashes (see the SQLite schema). */
    refreshHash: text('refresh_hash').notNull(),
    previousHash: text('previous_hash'),
    childSeal: text('child_seal'),
    generation: integer('generation').notNull().default(0),
    userAgent: text('user_agent'),
    ip: text('ip'),
    createdAt: at('created_at').notNull(),
    lastUsedAt: at('last_used_at').notNull(),
    expiresAt: at('expires_at').notNull(),
    rotatedAt: at('rotated_at'),
    revokedAt: at('revoked_at'),
    revokeReason: text('revoke_reason'),
    /** RFC 8176 methods of the login, space-separated (`pwd`, `pwd otp mfa`, ...). */
    amr: text('amr').notNull().default('pwd'),
  },
  (t) => [
    index('sessions_user_id_idx').on(t.userId),
    index('sessions_expires_at_idx').on(t.expiresAt),
    // Housekeeping finds revoked sessions by it; live sessions (most rows) stay out of it.
    index('sessions_revoked_at_idx').on(t.revokedAt).where(sql`revoked_at IS NOT NULL`),
  ],
);

/**
 * SHA-256 of every refresh token issued that has not expired yet, current or rotated: the
 * one index a presented token is looked up in. Its session's refresh_hash and
 * previous_hash then say whether it is the current token, the previous one (a replay
 * inside the grace window) or an older one (reuse, which revokes the family). A rotation
 * adds one row: one entry at a random place in the key's index, one at the end of the
 * expiry's; the hashes in the session row are not indexed.
 */
export const refreshTokenHashes = pgTable(
  'refresh_token_hashes',
  {
    hash: text('hash').primaryKey(),
    /**
     * No foreign key: its index would cost each rotation one more write at a random place
     * in the file (docs/performance.md). A row outlives its session until its own expiry
     * at most (housekeeping prunes by expires_at), and a lookup joins the live session.
     */
    sessionId: text('session_id').notNull(),
    /** When the token expires (for older tokens moved by migration 0009, its session's expiry: a later time). */
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [index('refresh_token_hashes_expires_at_idx').on(t.expiresAt)],
);

export const revokedTokens = pgTable(
  'revoked_tokens',
  {
    jti: text('jti').primaryKey(),
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [index('revoked_tokens_expires_at_idx').on(t.expiresAt)],
);

export const signingKeys = pgTable(
  'signing_keys',
  {
    kid: text('kid').primaryKey(),
    alg: text('alg').notNull(),
    publicJwk: text('public_jwk').notNull(),
    privateJwk: text('private_jwk').notNull(),
    createdAt: at('created_at').notNull(),
    retiredAt: at('retired_at'),
    expiresAt: at('expires_at'),
  },
  (t) => [uniqueIndex('signing_keys_one_active_per_alg').on(t.alg).where(sql`retired_at IS NULL`)],
);

/** Registered OAuth clients. The public default client `gatehouse` is built in, not stored. */
export const oauthClients = pgTable('oauth_clients', {
  id: text('id').primaryKey(),
  secretHash: text('secret_hash'),
  name: text('name').notNull(),
  grantTypes: text('grant_types').notNull(),
  audience: text('audience'),
  createdAt: at('created_at').notNull(),
  redirectUris: text('redirect_uris').notNull().default('[]'),
  postLogoutRedirectUris: text('post_logout_redirect_uris').notNull().default('[]'),
  scopes: text('scopes').notNull().default(''),
  firstParty: boolean('first_party').notNull().default(false),
  idTokenAlg: text('id_token_alg').notNull().default('RS256'),
  backchannelLogoutUri: text('backchannel_logout_uri'),
});

/** Single-use email tokens (verification, password reset), stored only as SHA-256 hashes. */
export const emailTokens = pgTable(
  'email_tokens',
  {
    hash: text('hash').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose').notNull(),
    email: text('email').notNull(),
    createdAt: at('created_at').notNull(),
    expiresAt: at('expires_at').notNull(),
    usedAt: at('used_at'),
  },
  (t) => [index('email_tokens_user_id_idx').on(t.userId), index('email_tokens_expires_at_idx').on(t.expiresAt)],
);

/** Append-only security audit trail. No foreign key: entries outlive deleted accounts. */
export const securityEvents = pgTable(
  'security_events',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    at: at('at').notNull(),
    type: text('type').notNull(),
    userId: integer('user_id'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    detail: text('detail'),
  },
  (t) => [index('security_events_user_id_idx').on(t.userId), index('security_events_at_idx').on(t.at)],
);

/** The revocation feed's ordered record (see schema/sqlite.ts). */
export const revocationEvents = pgTable(
  'revocation_events',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    sessionId: text('session_id'),
    tokenId: text('token_id'),
    at: at('at').notNull(),
    expiresAt: at('expires_at'),
  },
  (t) => [index('revocation_events_at_idx').on(t.at), index('revocation_events_expires_at_idx').on(t.expiresAt)],
);

/** Second factors: TOTP (seed sealed under the key-encryption key) and passkeys. */
export const mfaFactors = pgTable(
  'mfa_factors',
  {
    id: text('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    name: text('name').notNull(),
    createdAt: at('created_at').notNull(),
    /** Null while pending (a TOTP enrolment not confirmed by a first code). */
    activatedAt: at('activated_at'),
    lastUsedAt: at('last_used_at'),
    secretSealed: text('secret_sealed'),
    /** TOTP: the last time step accepted (the database replay guard). */
    lastStep: integer('last_step'),
    credentialId: text('credential_id').unique(),
    publicKey: text('public_key'),
    // A WebAuthn signature counter is unsigned 32-bit: past int4.
    counter: bigint('counter', { mode: 'number' }).notNull().default(0),
    /** JSON array of WebAuthn transports. */
    transports: text('transports'),
  },
  (t) => [index('mfa_factors_user_id_idx').on(t.userId)],
);

/** Single-use recovery codes, stored only as SHA-256 digests. */
export const recoveryCodes = pgTable(
  'recovery_codes',
  {
    hash: text('hash').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: at('created_at').notNull(),
    usedAt: at('used_at'),
  },
  (t) => [index('recovery_codes_user_id_idx').on(t.userId)],
);

/** mfa_tokens of half-done logins and WebAuthn ceremony challenges, by SHA-256 digest. */
export const authChallenges = pgTable(
  'auth_challenges',
  {
    hash: text('hash').primaryKey(),
    kind: text('kind').notNull(),
    userId: integer('user_id').references(() => users.id, { onDelete: 'cascade' }),
    throttleKey: text('throttle_key'),
    clientId: text('client_id'),
    attempts: integer('attempts').notNull().default(0),
    createdAt: at('created_at').notNull(),
    expiresAt: at('expires_at').notNull(),
    usedAt: at('used_at'),
  },
  (t) => [index('auth_challenges_expires_at_idx').on(t.expiresAt)],
);

/**
 * OpenID Connect authorization codes, stored only as SHA-256 hashes: single use, 60 s,
 * bound to the client, the redirect URI and the PKCE challenge. `session_id` is the
 * session the code was redeemed for, so a second redemption can revoke it.
 */
export const authorizationCodes = pgTable(
  'authorization_codes',
  {
    hash: text('hash').primaryKey(),
    clientId: text('client_id').notNull(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    redirectUri: text('redirect_uri').notNull(),
    codeChallenge: text('code_challenge').notNull(),
    scope: text('scope').notNull(),
    nonce: text('nonce'),
    /** The browser (single sign-on) session that approved it: the id token's `sid`. */
    ssoSessionId: text('sso_session_id').notNull(),
    authTime: at('auth_time').notNull(),
    /** JSON array of RFC 8176 method references. */
    amr: text('amr').notNull(),
    acr: text('acr'),
    createdAt: at('created_at').notNull(),
    expiresAt: at('expires_at').notNull(),
    usedAt: at('used_at'),
    sessionId: text('session_id'),
  },
  (t) => [index('authorization_codes_expires_at_idx').on(t.expiresAt)],
);

/**
 * What an OpenID Connect session (a normal row of `sessions`, one per client sign-in)
 * carries beyond it: its scopes and the single sign-on session it came from, which
 * RP-initiated logout ends together with all of its children.
 */
export const oidcGrants = pgTable(
  'oidc_grants',
  {
    sessionId: text('session_id')
      .primaryKey()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    ssoSessionId: text('sso_session_id').notNull(),
    clientId: text('client_id').notNull(),
    scope: text('scope').notNull(),
    authTime: at('auth_time').notNull(),
    amr: text('amr').notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [index('oidc_grants_sso_session_id_idx').on(t.ssoSessionId)],
);

/** Consent of a user to a third-party client, remembered until revoked. */
export const consents = pgTable(
  'consents',
  {
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    clientId: text('client_id').notNull(),
    /** Space-separated scopes granted. */
    scope: text('scope').notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.clientId] })],
);
