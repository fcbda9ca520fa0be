/**
 * How every completed login answers, whichever step completed it (/login, /login/mfa,
 * /webauthn/login): the token pair (or, in cookie mode, the refresh token as a cookie),
 * and the device token in the body and as its own cookie. One place, so a second factor
 * or a passkey never loses what a password login gives.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import type { LoginResult, TokenPair } from '../services/auth-service.js';
import { setDeviceCookie } from './device-cookie.js';
import { hasCsrfHeader, setRefreshCookie } from './refresh-cookie.js';
import { noStore } from './route-helpers.js';
import { CookieModeHeaders, LoginResponse, LoginResponseCookieMode, TokenResponse, TokenResponseCookieMode } from './schemas/auth.js';

export function tokenAnswers(config: Readonly<Config>, deviceTokenTtlSeconds: number) {
  // Cookie mode (REFRESH_TOKEN_COOKIE=true; see refresh-cookie.ts): asked for per request.
  const cookieMode = config.refresh.cookie;
  const secureCookies = config.publicUrl.startsWith('https:');

  const tokens = (request: FastifyRequest, reply: FastifyReply, pair: TokenPair) => {
    noStore(reply);
    if (!cookieMode || !hasCsrfHeader(request)) return pair;
    setRefreshCookie(reply, pair.refresh_token, config.refresh.ttlSeconds, config.publicPath);
    return { access_token: pair.access_token, token_type: pair.token_type, expires_in: pair.expires_in };
  };

  return {
    // Typed as the looser schemas (refresh_token optional), which both answers satisfy.
    tokenResponse: (cookieMode ? TokenResponseCookieMode : TokenResponse) as typeof TokenResponseCookieMode,
    loginResponse: (cookieMode ? LoginResponseCookieMode : LoginResponse) as typeof LoginResponseCookieMode,
    cookieHeaders: cookieMode ? { headers: CookieModeHeaders } : {},
    tokens,
    login(request: FastifyRequest, reply: FastifyReply, result: LoginResult) {
      setDeviceCookie(reply, result.device_token, deviceTokenTtlSeconds, secureCookies);
      return { ...tokens(request, reply, result), device_token: result.device_token };
    },
  };
}
