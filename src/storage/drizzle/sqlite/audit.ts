import { and, desc, eq } from 'drizzle-orm';
import type { AuditEntry, AuditStore } from '../../../services/ports.js';
import { auditRow, toAuditEntry } from '../mappers.js';
import { securityEvents } from '../schema/sqlite.js';
import type { SqliteDb } from './connection.js';

/** Append-only: this store has no update or delete. */
export class SqliteAuditStore implements AuditStore {
  constructor(private readonly db: SqliteDb) {}

  async append(entry: AuditEntry): Promise<void> {
    this.db.insert(securityEvents).values(auditRow(entry)).run();
  }

  async list(filter: { userId?: number | undefined; type?: string | undefined; limit: number }) {
    return this.db
      .select()
      .from(securityEvents)
      .where(and(filter.userId === undefined ? undefined : eq(securityEvents.userId, filter.userId), filter.type === undefined ? undefined : eq(securityEvents.type, filter.type)))
      .orderBy(desc(securityEvents.id))
      .limit(filter.limit)
      .all()
      .map(toAuditEntry);
  }
}
