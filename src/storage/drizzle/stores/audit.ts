import { and, desc, eq, sql } from 'drizzle-orm';
import type { AuditEntry, AuditStore } from '../../../services/ports.js';
import type { Exec } from '../exec.js';
import { auditRow, toAuditEntry } from '../mappers.js';

const ph = sql.placeholder;

/** Append-only: this store has no update or delete. */
export class DrizzleAuditStore implements AuditStore {
  /** Prepared once: every login and logout appends a row. */
  private readonly insert;

  constructor(private readonly x: Exec) {
    const { securityEvents } = x.tables;
    this.insert = x.prepare('gatehouse_audit_append', (db) =>
      db.insert(securityEvents).values({ at: ph('at'), type: ph('type'), userId: ph('userId'), ip: ph('ip'), userAgent: ph('userAgent'), detail: ph('detail') }),
    );
  }

  async append(entry: AuditEntry): Promise<void> {
    const row = auditRow(entry);
    // `?? null`: an absent optional field is stored as NULL, as drizzle's insert would.
    await this.insert.run({ at: row.at, type: row.type, userId: row.userId ?? null, ip: row.ip ?? null, userAgent: row.userAgent ?? null, detail: row.detail ?? null });
  }

  async list(filter: { userId?: number | undefined; type?: string | undefined; limit: number }) {
    const { securityEvents: t } = this.x.tables;
    const rows = await this.x.all(
      this.x.db
        .select()
        .from(t)
        .where(and(filter.userId === undefined ? undefined : eq(t.userId, filter.userId), filter.type === undefined ? undefined : eq(t.type, filter.type)))
        .orderBy(desc(t.id))
        .limit(filter.limit),
    );
    return rows.map(toAuditEntry);
  }
}
