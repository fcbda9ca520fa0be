/** @gatehouse/client: Gatehouse for browsers and any runtime with fetch. */
export { GatehouseClient, createClient } from './client.js';
export { GatehouseError } from './errors.js';
export type {
  ClientOptions,
  LoginResult,
  MfaInput,
  PasskeyLoginOptions,
  PasskeyRegistered,
  RegisterInput,
  Session,
  StorageMode,
  StoredTokens,
  TokenResponse,
  User,
} from './types.js';
