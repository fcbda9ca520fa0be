/**
 * PostgreSQL's session hot paths (behind the SessionStore port, see ../stores/sessions.ts):
 * revocation checks batched into one statement, rotations as named statements on one
 * client. The decision itself is ../stores/rotation.ts.
 */
import { getTableColumns } from 'drizzle-orm';
import type pg from 'pg';
import type { User } from '../../../domain/types.js';
import { liveUser, ROTATED_COLUMNS, type LiveUserRow, type SessionRow as Row } from '../mappers.js';
import type { RotationOutcome, RotationRequest } from '../../../services/ports.js';
import { FEED_LOCK } from '../stores/revocations.js';
import { planRotation, presentedAs, type Located } from '../stores/rotation.js';
import type { SessionHotPaths } from '../stores/sessions.js';
import { sessions } from '../schema/pg.js';
import { inTransaction, rowColumns, type PgConnection } from './connection.js';
import { translatePgError } from './errors.js';

const SESSION = rowColumns(sessions, 's');
const column = (key: keyof Row): string => getTableColumns(sessions)[key].name;

/*
 * The rotation's statements (POST /refresh): written once, run by name on the
 * transaction's client, so PostgreSQL parses and plans each once per connection and no
 * statement is built per request (Drizzle's query building was ~27 % of the event loop's
 * time on a PostgreSQL /refresh, profiled). Rows come back under Drizzle's keys.
 */
const LOCATE = {
  name: 'gatehouse_rotation_locate',
  text: `SELECT ${SESSION} FROM refresh_token_hashes h JOIN sessions s ON s.id = h.session_id WHERE h.hash = $1 FOR UPDATE OF s`,
};
/**
 * Records the child's hash and rotates, in one statement (one round trip). Parameters:
 * $1 the session id, then the ROTATED_COLUMNS values in order, then the child's hash and
 * its expiry.
 */
const CHILD_HASH = `$${ROTATED_COLUMNS.length + 2}::text`;
const CHILD_EXPIRES_AT = `$${ROTATED_COLUMNS.length + 3}`;
const ROTATE = {
  name: 'gatehouse_rotation_rotate',
  text: `WITH child AS (
           INSERT INTO refresh_token_hashes (hash, session_id, expires_at)
           VALUES (${CHILD_HASH}, $1, ${CHILD_EXPIRES_AT}))
         UPDATE sessions s SET ${ROTATED_COLUMNS.map((key, i) => `"${column(key)}" = $${i + 2}`).join(', ')}
          WHERE s.id = $1`,
};
const TOUCH = { name: 'gatehouse_rotation_touch', text: 'UPDATE sessions SET last_used_at = $2 WHERE id = $1' };
const REVOKE_FOR_REUSE = {
  name: 'gatehouse_rotation_revoke_for_reuse',
  text: "UPDATE sessions SET revoked_at = $2, revoke_reason = 'refresh_token_reuse' WHERE id = $1",
};

/** The revocation feed's record of a reuse, under the feed's lock (see stores/revocations.ts). */
const FEED_LOCK_TAKE = { name: 'gatehouse_feed_lock', text: 'SELECT pg_advisory_xact_lock($1)' };
const RECORD_REUSE = { name: 'gatehouse_rotation_record_reuse', text: 'INSERT INTO revocation_events (session_id, at, expires_at) VALUES ($1, $2, $3)' };

async function locate(client: pg.PoolClient, hash: string): Promise<Located | undefined> {
  const row = (await client.query<Row>({ ...LOCATE, values: [hash] })).rows[0];
  return row ? presentedAs(row, hash) : undefined;
}

/**
 * Live sessions' users for a batch of (session id, token id, time) triples: a row, with
 * the triple's position `i`, for each one whose session is neither revoked nor expired
 * and whose token id is not revoked. Primary-key lookups, one statement for the batch.
 *
 * The session and the user are LATERAL subqueries with LIMIT 1, which PostgreSQL cannot
 * flatten into a join: each triple is a nested loop of primary-key lookups, whatever the
 * statistics or the plan PostgreSQL caches for this named statement. As a plain join,
 * /userinfo measured 3 000-7 000 checks/s when it ran after hot /me and ~30 000 new
 * sessions, with PostgreSQL busy on this statement and the server idle, against ~25 000
 * when it ran first: a plan cached while the table was small, kept as it grew, is the
 * likely cause (bench --pg, docs/performance.md). This form: ~24 000 in that order.
 */
const LIVE_SESSION_USERS = {
  name: 'gatehouse_live_session_users',
  text: `SELECT q.i, u.id, u.username, u.email, u.email_verified, u.password_hash, u.created_at
           FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS q(sid, jti, at, i)
           CROSS JOIN LATERAL (SELECT s.user_id FROM sessions s
                                WHERE s.id = q.sid AND s.revoked_at IS NULL AND s.expires_at > q.at LIMIT 1) s
           CROSS JOIN LATERAL (SELECT u.id, u.username, u.email, u.email_verified, u.password_hash, u.created_at
                                 FROM users u WHERE u.id = s.user_id LIMIT 1) u
          WHERE NOT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = q.jti)`,
};

interface PendingCheck {
  sessionId: string;
  tokenId: string;
  now: Date;
  resolve: (user: User | undefined) => void;
  reject: (error: unknown) => void;
}

export class PgSessionHotPaths implements SessionHotPaths {
  /** Revocation checks waiting for the next batch (see findLiveSessionUser()). */
  private pendingChecks: PendingCheck[] = [];

  constructor(
    private readonly conn: PgConnection,
    /** See DEFAULT_SESSION_RECORD_LIFETIME_MS (stores/revocations.ts). */
    private readonly recordLifetimeMs: number,
  ) {}

  async rotate(request: RotationRequest): Promise<RotationOutcome> {
    try {
      return await inTransaction(this.conn.pool, async (client) => {
        // SELECT ... FOR UPDATE: a second refresh of this session (on any instance) waits
        // here, then re-reads the row as the first one left it.
        const { outcome, write } = planRotation(request, await locate(client, request.presentedHash));
        switch (write?.kind) {
          case 'rotate':
            await client.query({ ...ROTATE, values: [write.id, ...ROTATED_COLUMNS.map((key) => write.columns[key]), write.childHash, write.childExpiresAt] });
            break;
          case 'touch':
            await client.query({ ...TOUCH, values: [write.id, write.at] });
            break;
          case 'revoke_for_reuse':
            await client.query({ ...REVOKE_FOR_REUSE, values: [write.id, write.at] });
            await client.query({ ...FEED_LOCK_TAKE, values: [FEED_LOCK] });
            await client.query({ ...RECORD_REUSE, values: [write.id, write.at, new Date(write.at.getTime() + this.recordLifetimeMs)] });
            break;
        }
        return outcome;
      });
    } catch (error) {
      throw translatePgError(error);
    }
  }

  /**
   * The per-request revocation check. Checks asked for in the same turn of the event loop
   * go to PostgreSQL together, as one statement at the next setImmediate (DataLoader's
   * idea, but across requests: DataLoader batches within one tick, and each request
   * arrives in a tick of its own). Each still runs after its request arrived, against
   * committed state, and gets its own answer; the round trip, the pool checkout and the
   * result parsing are paid once per batch instead of once per request.
   */
  findLiveSessionUser(sessionId: string, tokenId: string, now: Date): Promise<User | undefined> {
    return new Promise((resolve, reject) => {
      this.pendingChecks.push({ sessionId, tokenId, now, resolve, reject });
      if (this.pendingChecks.length === 1) setImmediate(() => void this.runChecks());
    });
  }

  private async runChecks(): Promise<void> {
    const batch = this.pendingChecks;
    this.pendingChecks = [];
    try {
      const result = await this.conn.pool.query<LiveUserRow & { i: string }>({
        ...LIVE_SESSION_USERS,
        values: [batch.map((c) => c.sessionId), batch.map((c) => c.tokenId), batch.map((c) => c.now)],
      });
      const live = new Map(result.rows.map((row) => [Number(row.i), row]));
      batch.forEach((check, i) => {
        const row = live.get(i + 1); // WITH ORDINALITY counts from 1
        check.resolve(row ? liveUser(row) : undefined);
      });
    } catch (error) {
      const translated = translatePgError(error);
      for (const check of batch) check.reject(translated);
    }
  }
}
