/** MFA test helpers: enrol TOTP over HTTP, and compute codes with otpauth itself (not our wrapper). */
import assert from 'node:assert/strict';
import { Secret, TOTP } from 'otpauth';
import { freshIp, PASSWORD, type TestApp } from './app.js';

export function codeAt(secretBase32: string, at: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: 6, period: 30, timestamp: at });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Enrols and activates TOTP for the holder of `accessToken`; returns the seed and recovery codes. */
export async function enrolTotp(app: TestApp, accessToken: string, now = Date.now()) {
  const start = await app.app.inject({ method: 'POST', url: '/mfa/totp', headers: bearer(accessToken), payload: { password: PASSWORD } });
  assert.equal(start.statusCode, 201, start.body);
  const { factor_id: factorId, secret } = start.json();
  const activate = await app.app.inject({
    method: 'POST',
    url: '/mfa/totp/activate',
    headers: bearer(accessToken),
    payload: { factor_id: factorId, code: codeAt(secret, now) },
  });
  assert.equal(activate.statusCode, 200, activate.body);
  return { factorId: factorId as string, secret: secret as string, recoveryCodes: activate.json().recovery_codes as string[] | undefined };
}

/** The password step of a login for a user with a factor: expects 403 mfa_required. */
export async function passwordStep(app: TestApp, username: string, ip = freshIp()): Promise<string> {
  const res = await app.app.inject({ method: 'POST', url: '/login', payload: { username, password: PASSWORD }, remoteAddress: ip });
  assert.equal(res.statusCode, 403, res.body);
  assert.equal(res.json().code, 'mfa_required');
  return res.json().mfa_token;
}

export function mfaLogin(app: TestApp, body: Record<string, string>, ip = freshIp()) {
  return app.app.inject({ method: 'POST', url: '/login/mfa', payload: body, remoteAddress: ip });
}

export function claimsOf(accessToken: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString());
}

/** A six-digit code that is valid in none of the accepted steps around `at`. */
export function wrongCode(secret: string, at: number): string {
  const valid = new Set([-30_000, 0, 30_000].map((d) => codeAt(secret, at + d)));
  for (let n = 0; ; n++) {
    const code = String(n).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}
