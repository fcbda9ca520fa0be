/**
 * What the services need from the outside world. Stores (SQLite now, PostgreSQL next)
 * implement these; services never import a database, Redis or Fastify.
 */
import type { JWK } from 'jose';
import type { RotationDecision, TokenMatch } from '../domain/refresh-rotation.js';
import type { Amr, MfaFactor, OAuthClient, Session, User } from '../domain/types.js';
import type { OidcStore } from './oidc-ports.js';

export interface NewUser {
  username: string;
  usernameKey: string;
  email: string;
  emailKey: string;
  passwordHash: string;
  createdAt: Date;
}

export class DuplicateError extends Error {
  constructor(readonly field: 'username' | 'email' | 'client') {
    super(`duplicate ${field}`);
    this.name = 'DuplicateError';
  }
}

export interface UserStore {
  /** Throws DuplicateError when the username or email key is taken. */
  create(user: NewUser): Promise<User>;
  findById(id: number): Promise<User | undefined>;
  /** By username key or email key. */
  findByLogin(key: string): Promise<User | undefined>;
  /**
   * The user imported under this exact username of the original service, and the moment
   * before which the original service's tokens for them are void (null: none are).
   */
  findByLegacyUsername(username: string): Promise<(User & { legacyTokensVoidBefore: Date | null }) | undefined>;
  /** Voids every original-service token of the user issued before `at` (no-op for a native user). */
  voidLegacyTokens(id: number, at: Date): Promise<void>;
  updatePasswordHash(id: number, passwordHash: string): Promise<void>;
  /** One imported bcrypt hash still waiting for its user's first login, or undefined when none is left. */
  anyLegacyHash(): Promise<string | undefined>;
  /** Removes the user; their sessions go with them (foreign-key cascade). */
  delete(id: number): Promise<boolean>;
  /** Marks the email verified, but only while the account still has that address. */
  markEmailVerified(id: number, emailKey: string): Promise<boolean>;
}

export type EmailTokenPurpose = 'verify_email' | 'reset_password';

export interface EmailTokenStore {
  create(token: { hash: string; userId: number; purpose: EmailTokenPurpose; email: string; createdAt: Date; expiresAt: Date }): Promise<void>;
  /**
   * Atomically marks an unused, unexpired token of this purpose as used and returns whom
   * it was for; undefined for anything else (unknown, used, expired, other purpose).
   */
  consume(hash: string, purpose: EmailTokenPurpose, now: Date): Promise<{ userId: number; email: string } | undefined>;
  /** Marks the user's outstanding tokens of this purpose used (a reset supersedes them all). */
  invalidateAll(userId: number, purpose: EmailTokenPurpose, now: Date): Promise<void>;
  /** Deletes tokens that expired before `before`. */
  prune(before: Date): Promise<number>;
}

/** A user of the original FastAPI service, keys already normalised. */
export interface LegacyUser {
  id: number;
  /** Exactly as the original service had it: its tokens name users by it. */
  legacyUsername: string;
  username: string;
  usernameKey: string;
  email: string;
  emailKey: string;
  /** passlib bcrypt ($2b$...). */
  passwordHash: string;
}

export interface ImportReport {
  /** Users written (kept id or new id). */
  imported: number;
  keptIds: number;
  /** Already here from an earlier import (same username and email): left alone. */
  alreadyPresent: number;
  /** Skipped: the username or the email belongs to another Gatehouse account. */
  conflicts: Array<{ id: number; username: string; reason: string }>;
  /** Blacklisted original tokens carried over (unexpired ones only). */
  revokedTokens: number;
}

/** A revoked original token to carry over. */
export interface LegacyRevokedToken {
  jti: string;
  expiresAt: Date;
}

/**
 * The original's users read batch by batch, so that a source of any size is never held in
 * memory at once.
 */
export interface LegacyUserSource {
  /** Every user, batch after batch, in the original's id order. */
  batches(): Iterable<LegacyUser[]>;
  /** The users with these ids again (the second pass, for those whose id was taken). */
  byIds(ids: readonly number[]): LegacyUser[];
}

export interface ImportStore {
  /**
   * All of it in one transaction (rolled back when dryRun): nothing is ever half-written.
   * Users and tokens come as arrays or, for a large source, batch by batch; either way the
   * store holds one batch at a time (plus the ids whose original id was taken, and the
   * conflicts it reports).
   */
  importLegacy(input: {
    users: LegacyUser[] | LegacyUserSource;
    revokedTokens: LegacyRevokedToken[] | { batches(): Iterable<LegacyRevokedToken[]> };
    now: Date;
    dryRun: boolean;
  }): Promise<ImportReport>;
}

export interface AuditEntry {
  at: Date;
  type: SecurityEventType;
  userId: number | null;
  ip: string | null;
  userAgent: string | null;
  /** Non-secret details only: reasons, ids. */
  detail: Record<string, string | number | boolean> | null;
}

export interface AuditStore {
  append(entry: AuditEntry): Promise<void>;
  list(filter: { userId?: number | undefined; type?: string | undefined; limit: number }): Promise<Array<AuditEntry & { id: number }>>;
}

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

export interface NewSession {
  id: string;
  userId: number;
  clientId: string;
  refreshHash: string;
  userAgent: string | null;
  ip: string | null;
  createdAt: Date;
  expiresAt: Date;
  /** RFC 8176 methods of this login; `['pwd']` when not given. */
  amr?: Amr[];
}

export interface RotationRequest {
  presentedHash: string;
  now: Date;
  /** Hash and seal of the child, used only when the decision is `rotate`. */
  childHash: string;
  childSeal: string;
  /** Sliding lifetime: a rotation extends the session to this moment. */
  childExpiresAt: Date;
  decide: (match: TokenMatch, session: Session) => RotationDecision;
}

export type RotationOutcome =
  | { found: false }
  | { found: true; session: Session; decision: RotationDecision; /** Seal of the current child, for a replay. */ seal: string | null };

export interface SessionStore {
  create(session: NewSession): Promise<Session>;
  /**
   * Finds the session that owns the presented refresh-token hash, locks it, applies the
   * decision atomically (rotate, record a replay, or revoke on reuse) and returns it.
   * Refreshes of one session are serialised by the database, not by this process.
   */
  rotate(request: RotationRequest): Promise<RotationOutcome>;
  /** The session whose *current* refresh token has this hash (logout, revocation, introspection). */
  findByRefreshHash(hash: string): Promise<Session | undefined>;
  /**
   * The per-request revocation check, which also loads the caller: the session's user
   * when the session is live and the token id not revoked, else undefined. One query on
   * primary keys (sessions, users, revoked_tokens).
   */
  findLiveSessionUser(sessionId: string, tokenId: string, now: Date): Promise<User | undefined>;
  revoke(sessionId: string, now: Date, reason: string): Promise<boolean>;
  /** Revokes one session only if it belongs to `userId` (else false: not yours, or gone). */
  revokeOwned(sessionId: string, userId: number, now: Date, reason: string): Promise<boolean>;
  /** Revokes every live session of the user, except `keep` when given; returns how many. */
  revokeAllForUser(userId: number, now: Date, reason: string, keep?: string): Promise<number>;
  /** The user's sessions that are neither revoked nor expired, newest first. */
  listActive(userId: number, now: Date): Promise<Session[]>;
  /**
   * Deletes sessions expired or revoked before `before`, and refresh-token hashes that
   * expired before it (a deleted session's outlive it until then, and find no session);
   * in bounded batches that yield to the event loop. Returns how many sessions went.
   */
  prune(before: Date): Promise<number>;
}

export interface RevokedTokenStore {
  /** True when this call revoked it (false: it already was). */
  revoke(jti: string, expiresAt: Date): Promise<boolean>;
  isRevoked(jti: string): Promise<boolean>;
  prune(now: Date): Promise<number>;
}

/**
 * One revocation as the stores record it, in the same transaction as the revocation
 * itself (a session ended, or one access token revoked): the revocation feed's source.
 */
export interface RevocationRecord {
  /** Increasing in commit order (the feed's cursor). */
  id: number;
  /** Set when a session ended: every access token it issued is revoked. */
  sessionId: string | null;
  /** Set when one access token was revoked by its jti. */
  tokenId: string | null;
  at: Date;
  /**
   * When the last token the record covers expires (after which it is moot): the token's
   * own exp; for a session, its revocation plus the access-token lifetime and clock skew
   * in force then. Null on session records written before the column was filled.
   */
  expiresAt: Date | null;
}

export interface RevocationRecordStore {
  /** The highest id recorded so far (0 for none). */
  head(): Promise<number>;
  /** Records with id > `after`, oldest first. */
  after(after: number, limit: number): Promise<RevocationRecord[]>;
  /** Records with id > `after` that still cover an unexpired token: expiring after `now` (older session records without expiresAt: revoked after `sessionCutoff`). */
  relevantAfter(after: number, sessionCutoff: Date, now: Date, limit: number): Promise<RevocationRecord[]>;
  /** Deletes the records that cover no unexpired token any more. */
  prune(sessionCutoff: Date, now: Date): Promise<number>;
}

export interface ClientStore {
  /** Throws DuplicateError('client') when the id is taken. */
  create(client: OAuthClient): Promise<void>;
  find(id: string): Promise<OAuthClient | undefined>;
  list(): Promise<OAuthClient[]>;
  delete(id: string): Promise<boolean>;
}

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  publicJwk: JWK;
  privateJwk: JWK;
  createdAt: Date;
  /** No longer signs from this moment. */
  retiredAt: Date | null;
  /** Leaves the JWKS (and stops verifying) at this moment. */
  expiresAt: Date | null;
}

export interface SigningKeyStore {
  list(): Promise<SigningKeyRecord[]>;
  /** Inserts `key` as the active key for its alg unless one exists; returns the active one. */
  ensureActive(key: SigningKeyRecord): Promise<SigningKeyRecord>;
  /** Retires the active key of `key.alg` (setting its expiry) and makes `key` active, atomically. */
  rotate(key: SigningKeyRecord, retiredExpiresAt: Date): Promise<void>;
  /** Replaces a key's stored private JWK, only while it is still `expected` (sealing keys stored in clear). */
  replacePrivateJwk(kid: string, expected: JWK, next: JWK): Promise<boolean>;
}

/** A login half done, or a WebAuthn ceremony: single use, short-lived, stored by hash. */
export interface AuthChallenge {
  hash: string;
  kind: 'mfa' | 'webauthn_register' | 'webauthn_login';
  /** Null for a username-less passkey login (nobody is known yet). */
  userId: number | null;
  /** mfa: the account throttle key of the password step (wrong codes count there). */
  throttleKey: string | null;
  /** mfa: the OAuth client the login is for; its tokens go to it alone. */
  clientId: string | null;
  attempts: number;
  createdAt: Date;
  expiresAt: Date;
}

export interface NewFactor {
  id: string;
  userId: number;
  type: MfaFactor['type'];
  name: string;
  createdAt: Date;
  secretSealed?: string | null;
  credentialId?: string | null;
  publicKey?: string | null;
  counter?: number;
  transports?: string[];
}

export interface MfaStore {
  /**
   * Inside a transaction: factor changes of this user wait for it to end (PostgreSQL locks
   * the user's row; a SQLite write transaction already excludes other writers).
   */
  lockUser(userId: number): Promise<void>;
  /** Stores a pending TOTP factor, replacing the user's unfinished one (one transaction). */
  createPendingTotp(factor: NewFactor): Promise<void>;
  findFactor(id: string, userId: number): Promise<MfaFactor | undefined>;
  /** Any user's passkey by credential id (a username-less login learns the user from it). */
  findByCredentialId(credentialId: string): Promise<MfaFactor | undefined>;
  listActive(userId: number): Promise<MfaFactor[]>;
  hasActive(userId: number): Promise<boolean>;
  /** Activates the user's pending factor; false when there is none such. */
  activatePending(factorId: string, userId: number, now: Date): Promise<boolean>;
  /** Inserts an active factor (a passkey); false when its credential id is registered already. */
  insertActive(factor: NewFactor, now: Date): Promise<boolean>;
  deleteFactor(id: string, userId: number): Promise<boolean>;
  /** Removes every factor, recovery code and challenge of the user (one transaction); returns active factors removed. */
  deleteAllForUser(userId: number): Promise<number>;
  /** Replaces all the user's recovery codes (one transaction). */
  replaceRecoveryCodes(userId: number, hashes: string[], now: Date): Promise<void>;
  deleteRecoveryCodes(userId: number): Promise<void>;
  /** Marks an unused code of the user used; false when there is none such. */
  useRecoveryCode(userId: number, hash: string, now: Date): Promise<boolean>;
  countRecoveryCodes(userId: number): Promise<number>;
  /**
   * The database replay guard: records `step` as the factor's last used TOTP step only if
   * it is later than the one recorded; false means this code (or a later one) was used.
   */
  recordTotpStep(factorId: string, step: number, now: Date): Promise<boolean>;
  touchFactor(factorId: string, now: Date): Promise<void>;
  /** Stores a passkey's new signature counter only if it moved forward (0 stays 0). */
  advanceCounter(factorId: string, counter: number, now: Date): Promise<boolean>;

  createChallenge(challenge: AuthChallenge): Promise<void>;
  /** The live (unused, unexpired) challenge of this kind, or undefined. */
  findChallenge(hash: string, kind: AuthChallenge['kind'], now: Date): Promise<AuthChallenge | undefined>;
  /** Marks it used, atomically: of two concurrent uses exactly one gets it. */
  consumeChallenge(hash: string, kind: AuthChallenge['kind'], now: Date): Promise<AuthChallenge | undefined>;
  /** Counts one wrong code; at `max` the challenge dies. Returns the attempts so far, or undefined when it was not live. */
  countFailure(hash: string, max: number, now: Date): Promise<number | undefined>;
  prune(before: Date): Promise<number>;
}

/**
 * A TOTP step used once is refused on every instance (Redis when configured, else the
 * database). Two phases, so that the use is recorded in the transaction that completes the
 * step: `reserve` before it (a shared guard takes the step here, once for every instance),
 * `record` inside it.
 */
export interface OtpReplayGuard {
  /** Before the transaction: false when (factor, step) is taken already. Waits on no lock of the database. */
  reserve(factorId: string, step: number): Promise<boolean>;
  /** Inside the transaction: records the use; false when (factor, step) was used already. */
  record(tx: TransactionStores, factorId: string, step: number, now: Date): Promise<boolean>;
}

/**
 * The stores as one transaction sees them. The hot paths that batch across requests
 * (rotation, the revocation check) and housekeeping are not part of it.
 */
export interface TransactionStores {
  users: UserStore;
  sessions: Omit<SessionStore, 'rotate' | 'findLiveSessionUser' | 'prune'>;
  revokedTokens: Omit<RevokedTokenStore, 'prune'>;
  signingKeys: SigningKeyStore;
  clients: ClientStore;
  emailTokens: Omit<EmailTokenStore, 'prune'>;
  audit: AuditStore;
  mfa: Omit<MfaStore, 'prune'>;
  oidc: Omit<OidcStore, 'prune'>;
}

export interface Stores {
  users: UserStore;
  mfa: MfaStore;
  sessions: SessionStore;
  revokedTokens: RevokedTokenStore;
  signingKeys: SigningKeyStore;
  clients: ClientStore;
  emailTokens: EmailTokenStore;
  audit: AuditStore;
  imports: ImportStore;
  revocations: RevocationRecordStore;
  /**
   * Runs `body` in one database transaction: every write through `tx` commits together
   * when the body resolves, none when it throws (the error is rethrown). Resolves once the
   * commit is durable. The body must use only `tx` for the database, and must not wait on
   * anything else (hash passwords, sign tokens, send mail before or after it): on SQLite
   * the open transaction holds the one connection, and other requests wait for it.
   */
  transaction<T>(body: (tx: TransactionStores) => Promise<T>): Promise<T>;
  oidc: OidcStore;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Whether an attempt was granted from a key's budget. */
export type AttemptGrant =
  /** Granted; `last` when it took the final attempt (its failure locks the key). */
  | { ok: true; last: boolean }
  /** Refused: the budget is spent (nothing was taken); the key may try again after this. */
  | { ok: false; retryAfterMs: number };

/**
 * Counts attempts per key in a fixed window; in memory, or in Redis when several
 * instances share. An attempt is taken *before* the work it guards (one atomic step, so
 * concurrent attempts cannot all pass a check made before any of them is counted) and
 * given back when it should not count.
 */
export interface AttemptLimiter {
  take(key: string): Promise<AttemptGrant>;
  /** Returns one taken attempt to the key's budget. */
  giveBack(key: string): Promise<void>;
  reset(key: string): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Security-relevant happenings: counted in metrics, most of them kept in the audit trail. */
export type SecurityEventType =
  | 'registered'
  | 'login_succeeded'
  | 'login_failed'
  | 'lockout'
  | 'logout'
  | 'logout_all'
  | 'session_revoked'
  | 'refresh_rotated'
  | 'refresh_replayed'
  | 'refresh_refused'
  | 'refresh_reuse_detected'
  | 'token_revoked'
  | 'password_changed'
  | 'password_reset_requested'
  | 'password_reset'
  | 'email_verification_sent'
  | 'email_verified'
  | 'account_deleted'
  | 'mfa_challenged'
  | 'mfa_failed'
  | 'mfa_totp_enrolment_started'
  | 'mfa_factor_added'
  | 'mfa_factor_removed'
  | 'mfa_recovery_codes_regenerated'
  | 'mfa_recovery_code_used'
  | 'mfa_reset_by_admin'
  | 'step_up_required'
  | 'consent_granted'
  | 'consent_revoked'
  | 'authorization_code_reuse';

export interface SecurityEvent {
  type: SecurityEventType;
  userId?: number | undefined;
  /** Who made the request, when known. */
  client?: { ip: string; userAgent: string | null } | undefined;
  /** Non-secret details only (a reason, a session id, a client id): never a token or password. */
  detail?: Record<string, string | number | boolean>;
}

export interface AuthObserver {
  /**
   * `tx`: the event is part of a use case's transaction; an observer that writes (the
   * audit trail) writes through it, so the event commits, or not, with the change.
   */
  onEvent(event: SecurityEvent, tx?: TransactionStores): void | Promise<void>;
}
