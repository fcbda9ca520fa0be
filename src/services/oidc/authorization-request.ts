/**
 * The authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1), checked in
 * the order the specs ask, like node-oidc-provider's lib/actions/authorization/: first
 * what decides whether we may redirect at all (client, redirect_uri), then everything
 * else, whose failures go back to the client with `iss` and `state`.
 */
import {
  grantableScopes,
  isSupportedScope,
  isValidCodeChallenge,
  parsePrompt,
  parseScope,
  redirectUriRegistered,
  type Prompt,
} from '../../domain/oidc.js';
import type { OAuthClient } from '../../domain/types.js';

/** Query (GET) or form (POST) parameters of /oauth/authorize, as strings. */
export type AuthorizationParams = Partial<Record<string, string>>;

export type ResponseMode = 'query' | 'form_post';

export interface ValidAuthorizationRequest {
  client: OAuthClient;
  redirectUri: string;
  responseMode: ResponseMode;
  state: string | undefined;
  nonce: string | undefined;
  scope: string[];
  codeChallenge: string;
  prompts: Set<Prompt>;
  maxAgeSeconds: number | undefined;
  loginHint: string | undefined;
  /** acr_values was sent: the id token then carries `acr`. */
  acrRequested: boolean;
  /** The parameters as received, to carry through the sign-in and consent pages. */
  params: AuthorizationParams;
}

/** Where an error may be sent: the client's verified redirect URI. */
export interface RedirectTarget {
  redirectUri: string;
  responseMode: ResponseMode;
  state: string | undefined;
}

export type CheckResult =
  | { ok: true; request: ValidAuthorizationRequest }
  /** No trustworthy redirect URI: the user sees an error page, nothing is redirected. */
  | { ok: false; redirect: undefined; page: 'unknown_client' | 'bad_redirect_uri' | 'missing_redirect_uri' }
  | { ok: false; redirect: RedirectTarget; error: string; description: string };

const MAX_PARAM = 2048;

export function checkAuthorizationRequest(params: AuthorizationParams, client: OAuthClient | undefined): CheckResult {
  if (!client || !client.grantTypes.includes('authorization_code') || client.redirectUris.length === 0) {
    return { ok: false, redirect: undefined, page: 'unknown_client' };
  }
  const redirectUri = params.redirect_uri;
  if (redirectUri === undefined || redirectUri === '') return { ok: false, redirect: undefined, page: 'missing_redirect_uri' };
  if (!redirectUriRegistered(client.redirectUris, redirectUri)) return { ok: false, redirect: undefined, page: 'bad_redirect_uri' };

  const modeParam = params.response_mode;
  const responseMode: ResponseMode = modeParam === 'form_post' ? 'form_post' : 'query';
  const state = params.state;
  const fail = (error: string, description: string): CheckResult => ({
    ok: false,
    redirect: { redirectUri, responseMode, state },
    error,
    description,
  });

  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value.length > MAX_PARAM) return fail('invalid_request', `${name} is too long`);
  }
  if (modeParam !== undefined && modeParam !== 'query' && modeParam !== 'form_post') {
    return fail('invalid_request', 'response_mode must be query or form_post');
  }
  if (params.request !== undefined) return fail('request_not_supported', 'Request objects are not supported');
  if (params.request_uri !== undefined) return fail('request_uri_not_supported', 'request_uri is not supported');
  if (params.response_type !== 'code') {
    return fail('unsupported_response_type', 'Only response_type=code is supported (no implicit or hybrid flow)');
  }
  if (params.code_challenge === undefined || params.code_challenge === '') {
    return fail('invalid_request', 'PKCE is required: send code_challenge and code_challenge_method=S256');
  }
  if (params.code_challenge_method !== 'S256') {
    return fail('invalid_request', 'code_challenge_method must be S256 (plain is not accepted)');
  }
  if (!isValidCodeChallenge(params.code_challenge)) return fail('invalid_request', 'code_challenge must be 43 base64url characters');

  const requested = parseScope(params.scope);
  // Unknown scopes are ignored (OpenID Connect Core §3.1.2.1); known ones must be registered.
  const unregistered = requested.filter((s) => isSupportedScope(s) && !client.scopes.includes(s));
  if (unregistered.length > 0) return fail('invalid_scope', `This client is not registered for: ${unregistered.join(' ')}`);
  const scope = grantableScopes(requested, client.scopes);

  const prompt = parsePrompt(params.prompt);
  if (!prompt.ok) return fail('invalid_request', prompt.reason);

  let maxAgeSeconds: number | undefined;
  if (params.max_age !== undefined) {
    if (!/^\d{1,9}$/.test(params.max_age)) return fail('invalid_request', 'max_age must be a non-negative integer');
    maxAgeSeconds = Number(params.max_age);
  }
  // Core §3.1.2.1: nonce is how the client ties the id token to its request; keep it short.
  if (params.nonce !== undefined && params.nonce.length > 512) return fail('invalid_request', 'nonce is too long');

  return {
    ok: true,
    request: {
      client,
      redirectUri,
      responseMode,
      state,
      nonce: params.nonce,
      scope,
      codeChallenge: params.code_challenge,
      prompts: prompt.prompts,
      maxAgeSeconds,
      loginHint: params.login_hint,
      acrRequested: params.acr_values !== undefined && params.acr_values !== '',
      params,
    },
  };
}
