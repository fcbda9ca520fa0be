/**
 * The scenarios of the feature issues (16: MFA, 17: OpenID Connect), on the same server after
 * the original scenarios:
 * - mfa-step: the second step of a TOTP login alone (`POST /login/mfa` with a valid code),
 *   each mfa_token made beforehand by the real password step; its server CPU per request
 *   is issue 19's target 6 (under 1 ms);
 * - mfa-login: the whole TOTP login (password step, then the code), against the argon2 floor;
 * - passkey-login: username-less `/webauthn/login/options` + `/webauthn/login` with a software
 *   authenticator's assertions (bench/soft-authenticator.mjs);
 * - code-exchange: `POST /oauth/token` grant_type=authorization_code, each code made just
 *   before through the real authorization endpoint (sign-in cookie, PKCE) and used once;
 * - userinfo: `GET /userinfo` with hot tokens from those exchanges, and `GET /me` with the
 *   same tokens right after it (me-hot-late: the figure userinfo is compared with).
 * The users are made over HTTP as a person would make them: register, log in, enrol
 * (TOTP: `/mfa/totp` + activation with a code; passkeys: `/webauthn/register/*` with the
 * software authenticator); the OpenID Connect client by `gatehouse clients create`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserAgent, readForm } from '../../test/helpers/user-agent.js';
import { newCredential, registrationResponse, type SoftCredential } from '../soft-authenticator.mjs';
import { activationStep, markUsed, saveTotpState, totpCode, type TotpState, type TotpUser } from '../totp-steps.mjs';
import { fmtMs, fmtRate, log } from './log.js';
import { PASSWORD, runs } from './options.js';
import { load, pmap, sleep } from './processes.js';
import type { RunState } from './run-state.js';
import { measuredScenario, serverCpuMsPer } from './scenarios.js';
import { gatehouseCli, type Server } from './server.js';
import type { LoadResult } from './types.js';

async function call(url: string, pathname: string, body: unknown, init: { token?: string; expect?: number } = {}): Promise<Record<string, unknown>> {
  const r = await fetch(`${url}${pathname}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  const expect = init.expect ?? (r.status >= 200 && r.status < 300 ? r.status : 200);
  if (r.status !== expect) throw new Error(`setup ${pathname}: ${r.status} (expected ${expect}): ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** Registers and logs in `username`; its access token. */
async function userWithToken(url: string, username: string): Promise<string> {
  await call(url, '/register', { username, email: `${username}@bench.example`, password: PASSWORD });
  const tokens = await call(url, '/login', { username, password: PASSWORD });
  return tokens.access_token as string;
}

const ceil = Math.ceil;

/**
 * TOTP users enough for this run: each gives two logins at once and one more per 30 s
 * (bench/totp-steps.mjs). callgrind's steps are counted only when no MFA scenario runs: it
 * comes minutes later, when every user has more steps.
 */
export async function setupTotpUsers(run: RunState, server: Server, loginsPerSecond: number): Promise<string> {
  const { o, tmp } = run;
  const logins = runs(o, 'mfa-login') ? loginsPerSecond * (o.warmup + o.duration) * 1.3 : 0;
  const steps = runs(o, 'mfa-step') ? o.mfaSteps * 1.25 : 0;
  const forCallgrind = o.callgrind && !runs(o, 'mfa-login', 'mfa-step') ? o.callgrindWarmup + 2 * o.callgrindRequests : 0;
  const n = Math.max(2 * o.connections, ceil((logins + steps + forCallgrind) / 2) + 10);
  log(`setup: ${n} TOTP users (register, log in, enrol, activate) for ~${ceil(logins)} MFA logins and ${ceil(steps)} second steps`);
  const users: TotpUser[] = Array.from({ length: n }, (_, i) => ({ username: `bt${o.runId}_${i}`, password: PASSWORD, secret: '' }));
  const state: TotpState = { users, used: {}, next: 0 };
  await pmap(n, 6, async (i) => {
    const token = await userWithToken(server.url, users[i]!.username);
    const started = await call(server.url, '/mfa/totp', { password: PASSWORD }, { token, expect: 201 });
    users[i]!.secret = started.secret as string;
    const step = activationStep();
    markUsed(state, i, step);
    await call(server.url, '/mfa/totp/activate', { factor_id: started.factor_id, code: totpCode(users[i]!.secret, step) }, { token });
  });
  const file = path.join(tmp, 'totp-users.json');
  saveTotpState(file, state);
  return file;
}

/** Passkey users: one discoverable credential each, registered through /webauthn/register. */
export async function setupPasskeys(run: RunState, server: Server): Promise<string> {
  const { o, tmp } = run;
  const n = o.connections * 4;
  log(`setup: ${n} passkey users (register, log in, register a passkey with the software authenticator)`);
  const port = new URL(server.url).port;
  const credentials: SoftCredential[] = new Array<SoftCredential>(n);
  await pmap(n, 6, async (i) => {
    const token = await userWithToken(server.url, `bp${o.runId}_${i}`);
    const options = (await call(server.url, '/webauthn/register/options', { password: PASSWORD }, { token })) as { challenge: string; rp: { id: string }; user: { id: string } };
    // The server's default origins on loopback: http://localhost:PORT (browsers refuse passkeys on a bare IP).
    const credential = newCredential(options.rp.id, `http://${options.rp.id}:${port}`);
    await call(server.url, '/webauthn/register', { response: registrationResponse(credential, options), name: 'bench' }, { token, expect: 201 });
    credentials[i] = credential;
  });
  const file = path.join(tmp, 'passkeys.json');
  writeFileSync(file, JSON.stringify(credentials));
  return file;
}

export interface OidcFixture {
  clientId: string;
  redirectUri: string;
  cookie: string;
  authorize: Record<string, string>;
}

/** A first-party public client, and a user signed in at the hosted page (the sign-in cookie). */
export async function setupOidc(run: RunState, server: Server): Promise<OidcFixture> {
  const { o } = run;
  const clientId = `bench-rp-${o.runId}`;
  const redirectUri = 'http://localhost:5999/callback';
  // EdDSA ID tokens: the same signature as the access token (RS256, the default, adds an RSA signature).
  gatehouseCli(run, server, ['clients', 'create', '--id', clientId, '--public', '--first-party', '--redirect-uri', redirectUri, '--scopes', 'openid profile email offline_access', '--id-token-alg', 'EdDSA']);
  const username = `bo${o.runId}`;
  await userWithToken(server.url, username);
  const authorize = { client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'openid profile email offline_access', code_challenge_method: 'S256' };
  const agent = new UserAgent(server.url);
  const first = new URLSearchParams({ ...authorize, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', state: 'setup' });
  const page = await agent.fetch(`/oauth/authorize?${first}`);
  if (page.status !== 200) throw new Error(`setup /oauth/authorize: ${page.status} (expected the sign-in page)`);
  const signedIn = await agent.post(readForm(await page.text(), '/signin'), { username, password: PASSWORD });
  const cookie = agent.cookies.get('gatehouse_session');
  if (!cookie) throw new Error(`setup POST /signin: ${signedIn.status}, no sign-in cookie: ${(await signedIn.text()).slice(0, 300)}`);
  return { clientId, redirectUri, cookie: `gatehouse_session=${cookie}`, authorize };
}

/** The feature scenarios that --only selects (see the top of this file). */
export async function runFeatureScenarios(run: RunState, server: Server): Promise<void> {
  const { o, tmp, results } = run;
  const url = server.url;
  const base = { url, connections: o.connections };

  if (runs(o, 'mfa-step', 'mfa-login')) {
    const rate = run.results.floors.argon2?.inFlightPerSecond ?? results.scenarios.login?.okRps ?? 150;
    const totpFile = await setupTotpUsers(run, server, rate);
    run.totpFile = totpFile;
    if (runs(o, 'mfa-step')) {
      // mfa_tokens from the real password step (argon2-bound), then the second steps alone.
      const warmN = ceil(o.mfaSteps / 4);
      const tokensFile = path.join(tmp, 'mfa-tokens.txt');
      log(`scenario mfa-step: ${warmN + o.mfaSteps} password steps for their mfa_tokens`);
      await load({ ...base, kind: 'mfa-password', totpFile, collectFile: tokensFile, amount: warmN + o.mfaSteps, timeout: 60 });
      const made = readFileSync(tokensFile, 'utf8').split('\n').filter(Boolean).length;
      if (made !== warmN + o.mfaSteps) throw new Error(`mfa-step: ${made} mfa_tokens made, ${warmN + o.mfaSteps} asked`);
      const { r } = await measuredScenario(
        run,
        server,
        'mfa-step',
        { kind: 'mfa-step', totpFile, tokensFile, start: warmN, amount: o.mfaSteps },
        { kind: 'mfa-step', totpFile, tokensFile, start: 0, amount: warmN },
      );
      log(`  the second step: ${fmtMs(serverCpuMsPer(r))} ms of server CPU each (target < 1 ms)`);
    }
    if (runs(o, 'mfa-login')) await measuredScenario(run, server, 'mfa-login', { kind: 'mfa-login', totpFile, timeout: 60 });
  }

  if (runs(o, 'passkey-login')) {
    const credentialsFile = await setupPasskeys(run, server);
    await measuredScenario(run, server, 'passkey-login', { kind: 'passkey-login', credentialsFile });
  }

  if (runs(o, 'code-exchange', 'userinfo')) {
    const fx = await setupOidc(run, server);
    const exchangeSpec = { clientId: fx.clientId, redirectUri: fx.redirectUri };
    /** Codes through the real authorization endpoint for `seconds` (each lives 60 s): the file and how many. */
    const makeCodes = async (name: string, seconds: number): Promise<{ file: string; n: number; made: LoadResult }> => {
      const file = path.join(tmp, `codes-${name}.txt`);
      const made = await load({ ...base, kind: 'authorize', cookie: fx.cookie, authorize: fx.authorize, collectFile: file, duration: seconds });
      const n = readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
      log(`  ${name}: ${n} authorization codes made (${fmtRate(made.okRps)}/s at /oauth/authorize)`);
      return { file, n, made };
    };
    log('scenario code-exchange: codes for the warm-up');
    const warmCodes = await makeCodes('warm-up', o.warmup);
    const tokensFile = path.join(tmp, 'userinfo-tokens.txt');
    await load({ ...base, kind: 'code-exchange', ...exchangeSpec, tokensFile: warmCodes.file, amount: warmCodes.n, collectFile: tokensFile, collectMax: 1000 });
    // Made for at most 15 s: the exchange must use the first of them within their 60 s.
    log('scenario code-exchange: codes for the measured run');
    const codes = await makeCodes('measure', Math.min(o.duration, 15));
    const { r } = await measuredScenario(run, server, 'code-exchange', { kind: 'code-exchange', ...exchangeSpec, tokensFile: codes.file, amount: codes.n }, null);
    r.warmupNon2xx = 0;
    results.scenarios['authorize'] = { ...codes.made, warmupNon2xx: 0 };
    if (runs(o, 'userinfo')) {
      log('hot tokens: one pass over the userinfo tokens');
      const n = readFileSync(tokensFile, 'utf8').split('\n').filter(Boolean).length;
      await load({ ...base, kind: 'cold', path: '/userinfo', tokensFile, start: 0, amount: n });
      // A quiet moment first, so the server's idle collection (runtime/idle-collection.ts)
      // takes the code exchanges' garbage now, not in whichever of the pair comes first
      // (without it either one read 10-40 % low, by turns).
      await sleep(3000);
      await measuredScenario(run, server, 'userinfo', { kind: 'hot', path: '/userinfo', tokensFile });
      // Hot /me again, with the same tokens, right after /userinfo: target 6 compares the two
      // in one state of the server. The early me-hot ran before any feature scenario; by now
      // V8 has seen every other kind of request, and some of the request path's optimised code
      // has been replaced by more general code (after 50 passkey ceremonies GET /healthz took
      // 11-15 % more instructions; docs/performance.md).
      await measuredScenario(run, server, 'me-hot-late', { kind: 'hot', path: '/me', tokensFile });
    }
  }
}
