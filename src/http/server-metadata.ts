/**
 * The authorization server's metadata, once: RFC 8414's document
 * (/.well-known/oauth-authorization-server) is this, and OpenID Connect Discovery's
 * (/.well-known/openid-configuration) is this plus the OpenID Connect fields, so a client
 * reading either learns the same grants, endpoints and authentication methods. Every URL
 * derives from PUBLIC_URL; the issuer is exactly our `iss`.
 */
import type { Config } from '../config/index.js';
import { SUPPORTED_SCOPES } from '../domain/oidc.js';
import { MFA_OTP_GRANT } from '../domain/types.js';

export function authorizationServerMetadata(config: Readonly<Config>) {
  const base = config.publicUrl;
  return {
    issuer: config.jwt.issuer,
    authorization_endpoint: `${base}/oauth/authorize`,
    token_endpoint: `${base}/oauth/token`,
    revocation_endpoint: `${base}/oauth/revoke`,
    introspection_endpoint: `${base}/oauth/introspect`,
    // With ALGORITHM=HS256 it holds the ID-token keys only (404 until an OpenID Connect client exists).
    jwks_uri: `${base}/.well-known/jwks.json`,
    ...(config.oidc.dynamicRegistration ? { registration_endpoint: `${base}/oauth/register` } : {}),
    grant_types_supported: ['authorization_code', 'password', 'refresh_token', MFA_OTP_GRANT],
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'form_post'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: [...SUPPORTED_SCOPES],
    authorization_response_iss_parameter_supported: true,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    service_documentation: `${base}/docs`,
  };
}
