/**
 * The revocation feed subscriber: follows Gatehouse's `GET /revocations/stream` (SSE) and
 * keeps every revoked session id and token id until the tokens it covers expire, so a
 * logout is refused here without a network call per request. When the feed has been down
 * longer than `staleAfterMs`, it fails closed or falls back to RFC 7662 introspection:
 * never silently open.
 */
import { createHash } from 'node:crypto';

export interface RevocationFeedOptions {
  /** Gatehouse's base URL (its issuer, PUBLIC_URL). */
  issuer: string;
  /** A confidential client's credentials (as for /oauth/introspect). */
  clientId: string;
  clientSecret: string;
  /** How long the feed may be down before tokens stop being accepted on its word. Default 5000. */
  staleAfterMs?: number;
  /** Past that bound: refuse (default), or ask /oauth/introspect (cached briefly). */
  whenDown?: 'fail-closed' | 'introspect';
  /** Default `${issuer}/oauth/introspect` (the metadata's `introspection_endpoint`). */
  introspectionEndpoint?: string;
  /** How long an introspection answer is reused. Default 2000. */
  introspectionCacheMs?: number;
  /** First reconnect delay; doubles up to 5 s. Default 250. */
  reconnectDelayMs?: number;
  /** No byte (event or ping) for this long means a dead connection. Default 35000 (pings come every 15 s at most). */
  idleTimeoutMs?: number;
  fetch?: typeof fetch;
  /** Connection problems, for logs. */
  onError?: (error: unknown) => void;
}

/** What the verifier asks: the token's `sid`, `jti` and `exp`, and the token itself (for introspection). */
export interface RevocationSubject {
  sid?: string | undefined;
  jti?: string | undefined;
}

export type RevocationStatus = 'ok' | 'revoked' | 'unavailable';

/** After connecting, the first comment (`: ping`) means the backlog is in; wait no longer than this for one. */
const BACKLOG_GRACE_MS = 1000;
const PRUNE_EVERY_MS = 30_000;
const INTROSPECTION_CACHE_MAX = 10_000;

export class RevocationFeed {
  private readonly sids = new Map<string, number>();
  private readonly jtis = new Map<string, number>();
  private readonly introspected = new Map<string, { active: boolean; until: number }>();
  private lastEventId: string | undefined;
  /** Connected and caught up. */
  private up = false;
  /** When the feed was last known up; 0 = never (nothing is trusted before the first catch-up). */
  private lastUpAt = 0;
  private closed = false;
  private abort: AbortController | undefined;
  private readonly pruner: NodeJS.Timeout;
  private readonly readyWaiters: Array<() => void> = [];
  private readonly send: typeof fetch;
  private readonly staleAfterMs: number;
  private running: Promise<void> | undefined;
  /** Ends the wait between two connection attempts (close). */
  private wake: (() => void) | undefined;

  constructor(private readonly options: RevocationFeedOptions) {
    this.send = options.fetch ?? globalThis.fetch;
    this.staleAfterMs = options.staleAfterMs ?? 5000;
    this.pruner = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.pruner.unref();
  }

  /** Connects (and keeps reconnecting); resolves once the backlog is in. */
  start(): Promise<void> {
    this.running ??= this.loop();
    return this.ready();
  }

  /** Resolves the next time the feed is caught up (at once if it is). */
  ready(): Promise<void> {
    if (this.up) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  get connected(): boolean {
    return this.up;
  }

  /** Revoked entries held (sessions + tokens). */
  get size(): number {
    return this.sids.size + this.jtis.size;
  }

  /** Whether a verified token may be accepted. `token` is needed only for the introspection fallback. */
  async check(subject: RevocationSubject, token: string): Promise<RevocationStatus> {
    if ((subject.sid && this.sids.has(subject.sid)) || (subject.jti && this.jtis.has(subject.jti))) return 'revoked';
    if (this.up || (this.lastUpAt > 0 && Date.now() - this.lastUpAt <= this.staleAfterMs)) return 'ok';
    if (this.options.whenDown !== 'introspect') return 'unavailable';
    return this.introspect(token);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pruner);
    this.abort?.abort();
    this.wake?.();
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    let delay = this.options.reconnectDelayMs ?? 250;
    while (!this.closed) {
      try {
        await this.follow(() => (delay = this.options.reconnectDelayMs ?? 250));
      } catch (error) {
        if (!this.closed) this.options.onError?.(error);
      }
      this.markDown();
      if (this.closed) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        timer.unref();
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      delay = Math.min(delay * 2, 5000);
    }
  }

  /** One connection: reads events until it ends, fails or goes silent. */
  private async follow(onConnected: () => void): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(this.options.clientId)}:${encodeURIComponent(this.options.clientSecret)}`).toString('base64')}`,
    };
    if (this.lastEventId !== undefined) headers['last-event-id'] = this.lastEventId;
    const idleMs = this.options.idleTimeoutMs ?? 35_000;
    let idle = setTimeout(() => abort.abort(), idleMs);
    const catchUp = setTimeout(() => this.markUp(), BACKLOG_GRACE_MS);
    try {
      const res = await this.send(`${this.base}/revocations/stream`, { headers, signal: abort.signal });
      if (!res.ok || !res.body) throw new Error(`revocation feed answered HTTP ${res.status}`);
      onConnected();
      const decoder = new TextDecoder();
      let buffer = '';
      let event: { type?: string; id?: string; data: string[] } = { data: [] };
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(idle);
        idle = setTimeout(() => abort.abort(), idleMs);
        buffer += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
          if (line === '') {
            this.dispatch(event);
            event = { data: [] };
          } else if (line.startsWith(':')) {
            // A comment: the server sends one right after the backlog, then as a keep-alive.
            this.markUp();
          } else {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event.type = value;
            else if (field === 'data') event.data.push(value);
            else if (field === 'id' && !value.includes('\0')) event.id = value;
          }
        }
      }
    } finally {
      clearTimeout(idle);
      clearTimeout(catchUp);
    }
  }

  private dispatch(event: { type?: string; id?: string; data: string[] }): void {
    if (event.id !== undefined) this.lastEventId = event.id;
    if ((event.type ?? 'message') !== 'revoked' || event.data.length === 0) return;
    try {
      const entry = JSON.parse(event.data.join('\n')) as { sid?: unknown; jti?: unknown; exp?: unknown };
      const exp = typeof entry.exp === 'number' ? entry.exp * 1000 : Date.now() + 86_400_000;
      if (typeof entry.sid === 'string') this.sids.set(entry.sid, exp);
      if (typeof entry.jti === 'string') this.jtis.set(entry.jti, exp);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private markUp(): void {
    if (this.up) return;
    this.up = true;
    this.lastUpAt = Date.now();
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }

  private markDown(): void {
    if (this.up) this.lastUpAt = Date.now();
    this.up = false;
  }

  private async introspect(token: string): Promise<RevocationStatus> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = Date.now();
    const hit = this.introspected.get(key);
    if (hit && hit.until > now) return hit.active ? 'ok' : 'revoked';
    let active: boolean;
    try {
      const res = await this.send(this.options.introspectionEndpoint ?? `${this.base}/oauth/introspect`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(this.options.clientId)}:${encodeURIComponent(this.options.clientSecret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token }).toString(),
        signal: AbortSignal.timeout(2000),
      });
      if (!res.ok) return 'unavailable';
      active = ((await res.json()) as { active?: unknown }).active === true;
    } catch (error) {
      this.options.onError?.(error);
      return 'unavailable';
    }
    if (this.introspected.size >= INTROSPECTION_CACHE_MAX) this.introspected.delete(this.introspected.keys().next().value!);
    this.introspected.set(key, { active, until: now + (this.options.introspectionCacheMs ?? 2000) });
    return active ? 'ok' : 'revoked';
  }

  private prune(): void {
    const now = Date.now();
    // Kept a minute past `exp`: verifiers tolerate some clock skew on `exp` too.
    for (const map of [this.sids, this.jtis]) for (const [k, exp] of map) if (exp + 60_000 < now) map.delete(k);
    for (const [k, v] of this.introspected) if (v.until <= now) this.introspected.delete(k);
  }

  private get base(): string {
    return this.options.issuer.replace(/\/+$/, '');
  }
}

export function createRevocationFeed(options: RevocationFeedOptions): RevocationFeed {
  return new RevocationFeed(options);
}
