/**
 * Row ⇄ entity mapping shared by both dialects: the SQLite and PostgreSQL schemas select
 * rows of the same shape (the compiler checks each store's rows against these types).
 */
import type { JWK } from 'jose';
import type { Amr, GrantType, IdTokenAlgorithm, MfaFactor, OAuthClient, Session, User } from '../../domain/types.js';
import type { AuditEntry, AuthChallenge, NewFactor, RotationRequest, SecurityEventType, SigningKeyRecord } from '../../services/ports.js';
import type { authChallenges, mfaFactors, oauthClients, securityEvents, sessions, signingKeys, users } from './schema/sqlite.js';

export type UserRow = typeof users.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;
export type SigningKeyRow = typeof signingKeys.$inferSelect;
export type ClientRow = typeof oauthClients.$inferSelect;

export const toUser = (row: UserRow): User => ({
  id: row.id,
  username: row.username,
  email: row.email,
  emailVerified: row.emailVerified,
  passwordHash: row.passwordHash,
  createdAt: row.createdAt,
});

/** The raw row of the per-request session+user query (snake_case, driver types). */
export interface LiveUserRow {
  id: number;
  username: string;
  email: string;
  email_verified: number | boolean;
  password_hash: string;
  created_at: number | Date;
}

export const liveUser = (row: LiveUserRow): User => ({
  id: row.id,
  username: row.username,
  email: row.email,
  emailVerified: Boolean(row.email_verified),
  passwordHash: row.password_hash,
  createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
});

export const toSession = (row: SessionRow): Session => ({
  id: row.id,
  userId: row.userId,
  clientId: row.clientId,
  generation: row.generation,
  userAgent: row.userAgent,
  ip: row.ip,
  createdAt: row.createdAt,
  lastUsedAt: row.lastUsedAt,
  expiresAt: row.expiresAt,
  rotatedAt: row.rotatedAt,
  revokedAt: row.revokedAt,
  amr: row.amr.split(' ') as Amr[],
});

/** Stored space-separated: `pwd`, `pwd otp mfa`. */
export const amrColumn = (amr: readonly Amr[] | undefined): string => (amr && amr.length > 0 ? amr.join(' ') : 'pwd');

export type FactorRow = typeof mfaFactors.$inferSelect;

export const toFactor = (row: FactorRow): MfaFactor => ({
  id: row.id,
  userId: row.userId,
  type: row.type as MfaFactor['type'],
  name: row.name,
  createdAt: row.createdAt,
  activatedAt: row.activatedAt,
  lastUsedAt: row.lastUsedAt,
  secretSealed: row.secretSealed,
  credentialId: row.credentialId,
  publicKey: row.publicKey,
  counter: Number(row.counter),
  transports: row.transports === null ? [] : (JSON.parse(row.transports) as string[]),
});

export const factorRow = (factor: NewFactor, activatedAt: Date | null): Omit<FactorRow, 'lastUsedAt' | 'lastStep'> => ({
  id: factor.id,
  userId: factor.userId,
  type: factor.type,
  name: factor.name,
  createdAt: factor.createdAt,
  activatedAt,
  secretSealed: factor.secretSealed ?? null,
  credentialId: factor.credentialId ?? null,
  publicKey: factor.publicKey ?? null,
  counter: factor.counter ?? 0,
  transports: factor.transports && factor.transports.length > 0 ? JSON.stringify(factor.transports) : null,
});

export type ChallengeRow = typeof authChallenges.$inferSelect;

export const toChallenge = (row: ChallengeRow): AuthChallenge => ({
  hash: row.hash,
  kind: row.kind as AuthChallenge['kind'],
  userId: row.userId,
  throttleKey: row.throttleKey,
  clientId: row.clientId,
  attempts: row.attempts,
  createdAt: row.createdAt,
  expiresAt: row.expiresAt,
});

/** The columns rotatedSession() sets; each dialect's prepared rotation writes exactly these. */
export const ROTATED_COLUMNS = ['previousHash', 'refreshHash', 'childSeal', 'generation', 'rotatedAt', 'lastUsedAt', 'expiresAt'] as const satisfies ReadonlyArray<keyof SessionRow>;

/** The columns a rotation sets: the current hash becomes the previous one, the child current. */
export const rotatedSession = (row: SessionRow, request: RotationRequest): Pick<SessionRow, (typeof ROTATED_COLUMNS)[number]> => ({
  previousHash: row.refreshHash,
  refreshHash: request.childHash,
  childSeal: request.childSeal,
  generation: row.generation + 1,
  rotatedAt: request.now,
  lastUsedAt: request.now,
  expiresAt: request.childExpiresAt,
});

export const toSigningKey = (row: SigningKeyRow): SigningKeyRecord => ({
  kid: row.kid,
  alg: row.alg,
  publicJwk: JSON.parse(row.publicJwk) as JWK,
  privateJwk: JSON.parse(row.privateJwk) as JWK,
  createdAt: row.createdAt,
  retiredAt: row.retiredAt,
  expiresAt: row.expiresAt,
});

export const signingKeyRow = (key: SigningKeyRecord): SigningKeyRow => ({
  kid: key.kid,
  alg: key.alg,
  publicJwk: JSON.stringify(key.publicJwk),
  privateJwk: JSON.stringify(key.privateJwk),
  createdAt: key.createdAt,
  retiredAt: key.retiredAt,
  expiresAt: key.expiresAt,
});

export const toClient = (row: ClientRow): OAuthClient => ({
  id: row.id,
  name: row.name,
  secretHash: row.secretHash,
  grantTypes: JSON.parse(row.grantTypes) as GrantType[],
  audience: row.audience,
  createdAt: row.createdAt,
  redirectUris: JSON.parse(row.redirectUris) as string[],
  postLogoutRedirectUris: JSON.parse(row.postLogoutRedirectUris) as string[],
  scopes: row.scopes === '' ? [] : row.scopes.split(' '),
  firstParty: row.firstParty,
  idTokenAlg: row.idTokenAlg as IdTokenAlgorithm,
  backchannelLogoutUri: row.backchannelLogoutUri,
});

export const clientRow = (client: OAuthClient): ClientRow => ({
  ...client,
  grantTypes: JSON.stringify(client.grantTypes),
  redirectUris: JSON.stringify(client.redirectUris),
  postLogoutRedirectUris: JSON.stringify(client.postLogoutRedirectUris),
  scopes: client.scopes.join(' '),
});

export type AuditRow = typeof securityEvents.$inferSelect;

export const toAuditEntry = (row: AuditRow): AuditEntry & { id: number } => ({
  id: row.id,
  at: row.at,
  type: row.type as SecurityEventType,
  userId: row.userId,
  ip: row.ip,
  userAgent: row.userAgent,
  detail: row.detail === null ? null : (JSON.parse(row.detail) as AuditEntry['detail']),
});

export const auditRow = (entry: AuditEntry): Omit<AuditRow, 'id'> => ({
  ...entry,
  detail: entry.detail === null ? null : JSON.stringify(entry.detail),
});
