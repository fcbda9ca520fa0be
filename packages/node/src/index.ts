/** @gatehouse/node: Gatehouse for resource servers. */
export { createVerifier, type AccessTokenClaims, type Verifier, type VerifierOptions } from './verifier.js';
export { TokenError, type TokenErrorCode } from './errors.js';
export { applyGuards, requireAuthentication, requireScope, type GuardOptions } from './guards.js';
export { authorize, expressAuth, fastifyAuth, fastifyGuard, refusal, type AuthOptions } from './http.js';
export {
  RevocationFeed,
  createRevocationFeed,
  type RevocationFeedOptions,
  type RevocationStatus,
  type RevocationSubject,
} from './revocations.js';
