/** Rows of the OpenID Connect tables ↔ the entities of services/oidc-ports.ts (both dialects). */
import type { AuthorizationCode, OidcGrant } from '../../services/oidc-ports.js';
import type { authorizationCodes, oidcGrants } from './schema/sqlite.js';

type CodeRow = typeof authorizationCodes.$inferSelect;
type GrantRow = typeof oidcGrants.$inferSelect;

export const codeRow = (code: AuthorizationCode): CodeRow => ({
  ...code,
  scope: code.scope.join(' '),
  amr: JSON.stringify(code.amr),
});

export const toCode = (row: CodeRow): AuthorizationCode => ({
  ...row,
  scope: row.scope === '' ? [] : row.scope.split(' '),
  amr: JSON.parse(row.amr) as string[],
});

export const grantRow = (grant: OidcGrant): GrantRow => ({
  ...grant,
  scope: grant.scope.join(' '),
  amr: JSON.stringify(grant.amr),
});

export const toGrant = (row: GrantRow): OidcGrant => ({
  ...row,
  scope: row.scope === '' ? [] : row.scope.split(' '),
  amr: JSON.parse(row.amr) as string[],
});

export const mergeScopes = (before: string | undefined, added: string[]): string =>
  [...new Set([...(before ? before.split(' ') : []), ...added])].filter((s) => s !== '').join(' ');
