import { and, desc, eq, sql } from 'drizzle-orm';
import type { AuditEntry, AuditStore } from '../../../services/ports.js';
import { auditRow, toAuditEntry } from '../mappers.js';
import { securityEvents } from '../schema/sqlite.js';
import type { SqliteConnection } from './connection.js';

/** Append-only: this store has no update or delete. */
export class SqliteAuditStore implements AuditStore {
  /** Prepared once: every login and logout appends a row. */
  private readonly insert;

  constructor(private readonly conn: SqliteConnection) {
    this.insert = conn.db
      .insert(securityEvents)
      .values({
        at: sql.placeholder('at'),
        type: sql.placeholder('type'),
        userId: sql.placeholder('userId'),
        ip: sql.placeholder('ip'),
        userAgent: sql.placeholder('userAgent'),
        detail: sql.placeholder('detail'),
      })
      .prepare();
  }

  async append(entry: AuditEntry): Promise<void> {
    const row = auditRow(entry);
    // `?? null`: an absent optional field is stored as NULL, as drizzle's insert would.
    this.insert.run({ at: row.at, type: row.type, userId: row.userId ?? null, ip: row.ip ?? null, userAgent: row.userAgent ?? null, detail: row.detail ?? null });
    await this.conn.durable();
  }

  async list(filter: { userId?: number | undefined; type?: string | undefined; limit: number }) {
    return this.conn.db
      .select()
      .from(securityEvents)
      .where(and(filter.userId === undefined ? undefined : eq(securityEvents.userId, filter.userId), filter.type === undefined ? undefined : eq(securityEvents.type, filter.type)))
      .orderBy(desc(securityEvents.id))
      .limit(filter.limit)
      .all()
      .map(toAuditEntry);
  }
}
