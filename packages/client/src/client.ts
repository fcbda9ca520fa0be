/**
 * The Gatehouse client: typed calls, and a fetch wrapper that keeps a valid access token
 * on every request. One refresh at a time across tabs (Web Locks elect the refreshing tab;
 * the others receive its tokens over a BroadcastChannel); without those APIs, one at a time
 * in this process. The user is signed out only by a logout or a definite refusal from
 * /refresh, never by a network error or a 5xx.
 */
import { GatehouseError, errorFrom } from './errors.js';
import type {
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
import { type OptionsJson, createPasskey, getPasskey } from './webauthn.js';

// The browser APIs used, typed here so the package builds for any runtime (no DOM lib needed by callers).
interface Channel {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  /** Node: an open channel would keep the process alive. */
  unref?(): void;
}
interface Runtime {
  navigator?: { locks?: { request(name: string, callback: () => Promise<void>): Promise<void> } };
  BroadcastChannel?: new (name: string) => Channel;
  localStorage?: { getItem(k: string): string | null; setItem(k: string, v: string): void; removeItem(k: string): void };
}
const runtime = globalThis as unknown as Runtime;

type Message = { t: 'tokens'; v: StoredTokens } | { t: 'out' };

/**
 * The next lock holder learns of new tokens from the channel (and localStorage, which
 * Chromium too propagates between tabs asynchronously): the refreshing tab keeps the lock
 * this long after posting, so they land first.
 */
const HANDOFF_MS = 100;
/** The custom header that marks a cookie-mode request (a cross-site form cannot send it). */
const CSRF_HEADER = 'x-gatehouse-csrf';

export class GatehouseClient {
  private tokens: StoredTokens | undefined;
  /** Memory mode: the last login's device token (local mode keeps it in localStorage, cookie mode in its cookie). */
  private device: string | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly channel: Channel | undefined;
  private readonly listeners = new Set<(signedIn: boolean) => void>();
  private readonly mode: StorageMode;
  private readonly key: string;
  private readonly crossTab: boolean;
  private readonly leewayMs: number;
  private readonly base: string;
  private readonly send: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.mode = options.storage ?? 'memory';
    this.key = options.key ?? 'gatehouse';
    this.crossTab = options.crossTab ?? true;
    this.leewayMs = (options.refreshLeewaySeconds ?? 30) * 1000;
    this.base = options.baseUrl.replace(/\/+$/, '');
    const f = options.fetch ?? globalThis.fetch;
    this.send = (input, init) => f(input, init);
    this.tokens = this.load();
    if (this.crossTab && runtime.BroadcastChannel) {
      this.channel = new runtime.BroadcastChannel(`${this.key}:tokens`);
      this.channel.onmessage = (event) => this.receive(event.data as Message);
      this.channel.unref?.();
    }
  }

  /** True while the client holds an access token. */
  get signedIn(): boolean {
    return this.tokens !== undefined;
  }

  /** Called with the new state whenever the user signs in or out (in this tab or another). */
  onChange(listener: (signedIn: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  register(input: RegisterInput): Promise<{ message: string }> {
    return this.call('POST', '/register', input);
  }

  /**
   * Password login. With a second factor enrolled, finish with `loginMfa` or `loginWithPasskey`.
   * Presents the device token of this client's last login (a known device is never locked out by others' failures).
   */
  async login(input: { username: string; password: string }): Promise<LoginResult> {
    try {
      this.adopt(await this.call<TokenResponse>('POST', '/login', { device_token: this.deviceToken(), ...input }, true));
      return { mfaRequired: false };
    } catch (error) {
      if (error instanceof GatehouseError && error.code === 'mfa_required') {
        const body = error.body as { mfa_token: string; factors?: string[] };
        return { mfaRequired: true, mfaToken: body.mfa_token, factors: body.factors ?? [] };
      }
      throw error;
    }
  }

  /** The second step: `POST /login/mfa` with the `mfa_token` and a TOTP or recovery code. */
  async loginMfa(input: MfaInput): Promise<void> {
    const body = 'code' in input
      ? { mfa_token: input.mfaToken, code: input.code }
      : { mfa_token: input.mfaToken, recovery_code: input.recoveryCode };
    this.adopt(await this.call<TokenResponse>('POST', '/login/mfa', body, true));
  }

  /**
   * Passkey login. Without `mfaToken`: username-less (a discoverable passkey, the user
   * verified), a complete multi-factor login. With the `mfaToken` of a `login()` that
   * answered `mfaRequired`: the second step. Rejects with the browser's DOMException when
   * the user cancels (`NotAllowedError`) or `signal` aborts (`AbortError`).
   */
  async loginWithPasskey(options: PasskeyLoginOptions = {}): Promise<void> {
    const mfa = options.mfaToken ? { mfa_token: options.mfaToken } : {};
    const response = await getPasskey(() => this.call<OptionsJson>('POST', '/webauthn/login/options', mfa), options);
    this.adopt(await this.call<TokenResponse>('POST', '/webauthn/login', { response, ...mfa }, true));
  }

  /** Registers a passkey for the signed-in user (the password re-entered). */
  async registerPasskey(input: { password: string; name?: string }): Promise<PasskeyRegistered> {
    const response = await createPasskey(() => this.authed<OptionsJson>('POST', '/webauthn/register/options', { password: input.password }));
    return this.authed('POST', '/webauthn/register', { response, name: input.name });
  }

  /** Adopts a token response obtained elsewhere (server-side rendering, another client). */
  setTokens(response: TokenResponse): void {
    this.adopt(response);
  }

  /**
   * Cookie mode: gets an access token from the refresh cookie (after a page load). Other
   * modes: nothing to do (local storage was read at construction). Resolves to `signedIn`.
   */
  async restore(): Promise<boolean> {
    if (!this.tokens && this.mode === 'cookie') await this.refreshOnce(undefined).catch(() => undefined);
    return this.signedIn;
  }

  /** Refreshes now (one refresh however many callers and tabs ask at once). */
  refresh(): Promise<void> {
    return this.refreshOnce(this.tokens?.accessToken);
  }

  /** The access token, refreshed first when it is about to expire; undefined when signed out. */
  async accessToken(): Promise<string | undefined> {
    const current = this.tokens;
    if (!current || Date.now() < current.expiresAt - Math.min(this.leewayMs, current.lifetime / 4)) {
      return current?.accessToken;
    }
    try {
      await this.refreshOnce(current.accessToken);
    } catch (error) {
      // A network error or 5xx: keep going with the old token while it is still valid.
      if (this.tokens === current && Date.now() < current.expiresAt) return current.accessToken;
      throw error;
    }
    return this.tokens?.accessToken;
  }

  /**
   * fetch with the bearer token: refreshes ahead of expiry, and after a 401 refreshes once
   * and retries once. Give it replayable bodies (strings, Blobs, FormData), not streams.
   */
  async fetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    const token = await this.accessToken();
    const retry = input instanceof Request ? input.clone() : input;
    const res = await this.withBearer(input, init, token);
    if (res.status !== 401 || !token || !this.tokens) return res;
    if (this.tokens.accessToken === token) {
      try {
        await this.refreshOnce(token);
      } catch {
        return res;
      }
    }
    const fresh = this.tokens?.accessToken;
    return fresh && fresh !== token ? this.withBearer(retry, init, fresh) : res;
  }

  me(): Promise<User> {
    return this.authed('GET', '/me');
  }

  sessions(): Promise<Session[]> {
    return this.authed('GET', '/sessions');
  }

  revokeSession(id: string): Promise<void> {
    return this.authed('DELETE', `/sessions/${encodeURIComponent(id)}`);
  }

  /** Ends this session at the server and here (also when the server cannot be reached). */
  logout(): Promise<void> {
    const rt = this.tokens?.refreshToken;
    return this.end('/logout', rt ? { refresh_token: rt } : {});
  }

  /** Ends every session of the user. */
  logoutAll(): Promise<void> {
    return this.end('/logout/all', {});
  }

  /** Stops listening to other tabs. */
  close(): void {
    this.channel?.close();
  }

  private async end(path: string, body: object): Promise<void> {
    try {
      if (this.tokens) await this.authed('POST', path, body);
    } finally {
      this.signOut('logout', true);
    }
  }

  private withBearer(input: string | URL | Request, init: RequestInit, token: string | undefined): Promise<Response> {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    if (token) headers.set('authorization', `Bearer ${token}`);
    return this.send(input, { ...init, headers });
  }

  private async authed<T>(method: string, path: string, body?: object): Promise<T> {
    const res = await this.fetch(this.base + path, this.init(method, body, true));
    return this.parse<T>(res);
  }

  /** An unauthenticated call; `credentialed` ones carry the refresh cookie in cookie mode. */
  private async call<T>(method: string, path: string, body?: object, credentialed = false): Promise<T> {
    return this.parse<T>(await this.send(this.base + path, this.init(method, body, credentialed)));
  }

  private init(method: string, body: object | undefined, credentialed: boolean): RequestInit {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body) headers['content-type'] = 'application/json';
    const cookie = credentialed && this.mode === 'cookie';
    if (cookie) headers[CSRF_HEADER] = '1';
    return { method, headers, body: body ? JSON.stringify(body) : undefined, credentials: cookie ? 'include' : 'same-origin' };
  }

  private async parse<T>(res: Response): Promise<T> {
    if (!res.ok) throw await errorFrom(res);
    return (res.status === 204 ? undefined : await res.json()) as T;
  }

  /** Joins the refresh in flight, or starts one: the lock holder refreshes, the rest reuse its tokens. */
  private refreshOnce(stale: string | undefined): Promise<void> {
    this.refreshing ??= this.elect(stale).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private elect(stale: string | undefined): Promise<void> {
    const locks = this.crossTab ? runtime.navigator?.locks : undefined;
    // Another tab (or an earlier caller) may already have replaced the token we found stale.
    const work = async () => {
      if (this.mode === 'local') this.tokens = this.load();
      if (this.tokens?.accessToken !== stale) return false;
      await this.exchange();
      return true;
    };
    if (!locks) return work().then(() => undefined);
    return new Promise<void>((resolve, reject) => {
      locks
        .request(`${this.key}:refresh`, async () => {
          const exchanged = await work();
          // This tab goes on at once; the lock is kept a moment so the message (and the storage
          // write) reach the other tabs before the next lock holder looks at its tokens.
          resolve();
          if (exchanged && this.channel) await new Promise((r) => setTimeout(r, HANDOFF_MS));
        })
        .catch(reject);
    });
  }

  private async exchange(): Promise<void> {
    const rt = this.tokens?.refreshToken;
    if (this.mode !== 'cookie' && !rt) return;
    // Network errors propagate as they are: the user stays signed in.
    const res = await this.send(this.base + '/refresh', this.init('POST', rt ? { refresh_token: rt } : {}, true));
    if (res.ok) {
      this.adopt((await res.json()) as TokenResponse);
      return;
    }
    const error = await errorFrom(res);
    // Definite: the refresh token is dead (revoked, expired, reused). Anything else (429, 5xx): try later.
    if (res.status === 401 || error.code === 'invalid_grant') this.signOut('invalid_grant', true);
    throw error;
  }

  private adopt(response: TokenResponse): void {
    const device = response.device_token;
    if (device && this.mode === 'local') runtime.localStorage?.setItem(`${this.key}:device`, device);
    else if (device && this.mode === 'memory') this.device = device;
    const lifetime = response.expires_in * 1000;
    this.store({
      accessToken: response.access_token,
      refreshToken: this.mode === 'cookie' ? undefined : response.refresh_token,
      expiresAt: Date.now() + lifetime,
      lifetime,
    });
  }

  private store(tokens: StoredTokens, broadcast = true): void {
    const was = this.signedIn;
    this.tokens = tokens;
    if (this.mode === 'local') runtime.localStorage?.setItem(this.key, JSON.stringify(tokens));
    if (broadcast) this.channel?.postMessage({ t: 'tokens', v: tokens } satisfies Message);
    if (!was) this.emit();
  }

  private signOut(reason: 'logout' | 'invalid_grant', broadcast: boolean): void {
    if (this.mode === 'local') runtime.localStorage?.removeItem(this.key);
    if (broadcast) this.channel?.postMessage({ t: 'out' } satisfies Message);
    if (!this.tokens) return;
    this.tokens = undefined;
    this.options.onSignOut?.(reason);
    this.emit();
  }

  private receive(message: Message): void {
    if (message.t === 'tokens') this.store(message.v, false);
    else if (message.t === 'out') this.signOut('logout', false);
  }

  /** Read at each login: another tab may have logged in since (it stays across logouts: it names the device, not a session). */
  private deviceToken(): string | undefined {
    return this.mode === 'local' ? runtime.localStorage?.getItem(`${this.key}:device`) ?? undefined : this.device;
  }

  private load(): StoredTokens | undefined {
    if (this.mode !== 'local') return this.tokens;
    try {
      const raw = runtime.localStorage?.getItem(this.key);
      return raw ? (JSON.parse(raw) as StoredTokens) : undefined;
    } catch {
      return undefined;
    }
  }

  private emit(): void {
    for (const listener of this.listeners) listener(this.signedIn);
  }
}

export function createClient(options: ClientOptions): GatehouseClient {
  return new GatehouseClient(options);
}
