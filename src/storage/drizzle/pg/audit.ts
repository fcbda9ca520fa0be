import { and, desc, eq } from 'drizzle-orm';
import type { AuditEntry, AuditStore } from '../../../services/ports.js';
import { auditRow, toAuditEntry } from '../mappers.js';
import { securityEvents } from '../schema/pg.js';
import type { PgDb } from './connection.js';

/** Append-only: this store has no update or delete. */
export class PgAuditStore implements AuditStore {
  constructor(private readonly db: PgDb) {}

  async append(entry: AuditEntry): Promise<void> {
    await this.db.insert(securityEvents).values(auditRow(entry));
  }

  async list(filter: { userId?: number | undefined; type?: string | undefined; limit: number }) {
    const rows = await this.db
      .select()
      .from(securityEvents)
      .where(and(filter.userId === undefined ? undefined : eq(securityEvents.userId, filter.userId), filter.type === undefined ? undefined : eq(securityEvents.type, filter.type)))
      .orderBy(desc(securityEvents.id))
      .limit(filter.limit);
    return rows.map(toAuditEntry);
  }
}
