/** Fans events out to metrics and the append-only audit trail. */
import type { AuditStore, AuthObserver, Clock, SecurityEvent, SecurityEventType, TransactionStores } from './ports.js';

/** High-volume, routine events stay out of the trail (metrics still count them). */
const NOT_AUDITED: ReadonlySet<SecurityEventType> = new Set(['refresh_rotated', 'refresh_replayed', 'refresh_refused']);

export class AuditTrail implements AuthObserver {
  constructor(
    private readonly store: AuditStore,
    private readonly clock: Clock,
  ) {}

  async onEvent(event: SecurityEvent, tx?: TransactionStores): Promise<void> {
    if (NOT_AUDITED.has(event.type)) return;
    await (tx?.audit ?? this.store).append({
      at: this.clock.now(),
      type: event.type,
      userId: event.userId ?? null,
      ip: event.client?.ip ?? null,
      userAgent: event.client?.userAgent?.slice(0, 512) ?? null,
      detail: event.detail ?? null,
    });
  }
}

export class Observers implements AuthObserver {
  private readonly all: AuthObserver[];

  constructor(...all: AuthObserver[]) {
    this.all = all;
  }

  async onEvent(event: SecurityEvent, tx?: TransactionStores): Promise<void> {
    await Promise.all(this.all.map((o) => o.onEvent(event, tx)));
  }
}
