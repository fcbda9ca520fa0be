/**
 * The revocation feed (contract: "Revocation feed"): every revocation, in the order the
 * database recorded it, for resource servers that verify tokens themselves. The records
 * are written by the stores in the same transaction as the revocation; this service reads
 * them. One poller per instance serves every subscriber, so a revocation made on any
 * instance reaches the subscribers of every instance within a poll interval.
 */
import type { Clock, RevocationRecord, RevocationRecordStore } from './ports.js';

export type FeedData = { sid: string; exp: number } | { jti: string; exp: number };

export interface FeedEntry {
  /** The cursor: opaque to subscribers, increasing. */
  id: string;
  data: FeedData;
}

export interface RevocationFeedOptions {
  /** A session's access tokens are all expired this long after it was revoked. */
  accessTtlSeconds: number;
  clockSkewSeconds: number;
  /** How often the shared poller reads new records while anyone listens. */
  pollMs: number;
}

interface Subscriber {
  cursor: number;
  deliver(entries: FeedEntry[]): void;
}

const PAGE = 1000;

export class RevocationFeed {
  private readonly subscribers = new Set<Subscriber>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly store: RevocationRecordStore,
    private readonly clock: Clock,
    private readonly options: RevocationFeedOptions,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * What a new subscriber is sent first: with a cursor (Last-Event-ID), everything after
   * it; without, every revocation whose tokens have not all expired. Also the cursor to
   * follow on from.
   */
  async backlog(lastEventId: string | undefined): Promise<{ entries: FeedEntry[]; cursor: number }> {
    const now = this.clock.now();
    const cursor = parseCursor(lastEventId);
    // Read the head first: anything committed after it is the poller's, not lost between the two reads.
    const head = await this.store.head();
    const records: RevocationRecord[] = [];
    let after = cursor ?? 0;
    for (;;) {
      const page = await this.store.relevantAfter(after, this.sessionCutoff(now), now, PAGE);
      records.push(...page);
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.id;
    }
    const last = records.length > 0 ? records[records.length - 1]!.id : 0;
    return { entries: records.map((r) => this.entry(r)), cursor: Math.max(head, last, cursor ?? 0) };
  }

  /** Live entries after `cursor`, as they are recorded on any instance. Returns the unsubscribe. */
  subscribe(cursor: number, deliver: (entries: FeedEntry[]) => void): () => void {
    const subscriber: Subscriber = { cursor, deliver };
    this.subscribers.add(subscriber);
    this.timer ??= setInterval(() => void this.poll(), this.options.pollMs);
    return () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Drops records whose tokens have all expired. */
  prune(): Promise<number> {
    const now = this.clock.now();
    return this.store.prune(this.sessionCutoff(now), now);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.subscribers.size === 0) return;
    this.polling = true;
    try {
      let from = Math.min(...[...this.subscribers].map((s) => s.cursor));
      for (;;) {
        const page = await this.store.after(from, PAGE);
        if (page.length === 0) break;
        const entries = page.map((r) => ({ cursor: r.id, entry: this.entry(r) }));
        for (const subscriber of this.subscribers) {
          const fresh = entries.filter((e) => e.cursor > subscriber.cursor);
          if (fresh.length === 0) continue;
          subscriber.cursor = fresh[fresh.length - 1]!.cursor;
          subscriber.deliver(fresh.map((e) => e.entry));
        }
        from = page[page.length - 1]!.id;
        if (page.length < PAGE) break;
      }
    } catch (error) {
      // The next tick tries again; subscribers keep their cursors, so nothing is skipped.
      this.onError(error);
    } finally {
      this.polling = false;
    }
  }

  /**
   * Session records written before they stored their own `expires_at` (null there): those
   * revoked before this moment have no unexpired access token left, by today's lifetime.
   */
  private sessionCutoff(now: Date): Date {
    return new Date(now.getTime() - (this.options.accessTtlSeconds + this.options.clockSkewSeconds) * 1000);
  }

  private entry(record: RevocationRecord): FeedEntry {
    const id = String(record.id);
    if (record.tokenId !== null) {
      return { id, data: { jti: record.tokenId, exp: Math.ceil((record.expiresAt ?? record.at).getTime() / 1000) } };
    }
    // The lifetime in force when the session was revoked, stored with it (stores/revocations.ts).
    const exp = record.expiresAt
      ? Math.ceil(record.expiresAt.getTime() / 1000)
      : Math.ceil(record.at.getTime() / 1000) + this.options.accessTtlSeconds + this.options.clockSkewSeconds;
    return { id, data: { sid: record.sessionId ?? '', exp } };
  }
}

/** Our cursors are decimal record ids; anything else starts from the relevant backlog. */
function parseCursor(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}
