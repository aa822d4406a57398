import type { Db } from '../shared/db.js';
import { EXPIRE_CHUNK } from '../shared/expiry.js';
import { taskTicket, ticketFloor } from '../shared/ids.js';

export const UNDELIVERED_SCHEMA = `
-- One row: the expiry's reach. Results that finished before \`below\` are deleted from jobs,
-- delivered to their origin or not (RESULT_TTL). An origin asking for a ticket issued before it
-- that no row holds is told its result expired, rather than left waiting; kept on disk, as
-- origins ask as soon as a restarted proxy is back, before its first sweep.
CREATE TABLE IF NOT EXISTS expiry_mark (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  below INTEGER NOT NULL
);
INSERT OR IGNORE INTO expiry_mark (one, below) VALUES (1, 0);
`;

/** A finished job whose origin never acknowledged its result, as the expiry finds it. */
export interface UndeliveredRow {
  id: string;
  origin: string;
  /** How many tasks it has (a job of many tasks), else 0. */
  tasks: number;
  /** Its idempotency key, if it has one. */
  key: string | null;
}

/**
 * The rows of results never delivered: finished jobs whose origin did not come back for them.
 * A job of many tasks goes with its tasks (their ids derive from its own, so each is deleted by
 * its primary key: the table has no other index); a task never goes alone, as its job's result
 * is made of it.
 */
export class UndeliveredRows {
  private readonly sql;

  constructor(private readonly db: Db) {
    db.exec(UNDELIVERED_SCHEMA);
    this.sql = {
      found: db.prepare<[string, number, number], UndeliveredRow>(
        `SELECT id, origin, coalesce(json_array_length(spec, '$.tasks'), 0) AS tasks,
           json_extract(spec, '$.key') AS key
         FROM jobs WHERE id < ? AND finished_at < ? AND delivered = 0 AND parent IS NULL LIMIT ?`,
      ),
      deleteJob: db.prepare(
        `DELETE FROM jobs
         WHERE id = ? AND delivered = 0 AND finished_at IS NOT NULL AND parent IS NULL`,
      ),
      deleteTask: db.prepare('DELETE FROM jobs WHERE id = ? AND parent = ?'),
      deleteKey: db.prepare('DELETE FROM keys WHERE key = ? AND ticket = ?'),
      below: db.prepare<[], { below: number }>('SELECT below FROM expiry_mark'),
      raiseBelow: db.prepare('UPDATE expiry_mark SET below = ? WHERE below < ?'),
    };
  }

  /** Undelivered results that finished before `before` (submitted before it), at most `limit`. */
  found(before: number, limit = EXPIRE_CHUNK): UndeliveredRow[] {
    return this.sql.found.all(ticketFloor(before), before, limit);
  }

  /**
   * Deletes these jobs, with their tasks and keys, in one transaction; one no longer
   * undelivered and finished is kept. Returns how many rows went.
   */
  delete(rows: readonly UndeliveredRow[]): number {
    const { deleteJob, deleteTask, deleteKey } = this.sql;
    return this.db.transaction(() => {
      let n = 0;
      for (const r of rows) {
        if (deleteJob.run(r.id).changes === 0) continue;
        n++;
        for (let i = 0; i < r.tasks; i++) n += deleteTask.run(taskTicket(r.id, i), r.id).changes;
        if (r.key !== null) deleteKey.run(r.key, r.id);
      }
      return n;
    })();
  }

  /** Results that finished before this time are gone (0: none expired yet). */
  expiredBelow(): number {
    return this.sql.below.get()?.below ?? 0;
  }

  /** Results finished before `before` are gone from now on (it never moves back). */
  raiseBelow(before: number): void {
    this.sql.raiseBelow.run(before, before);
  }
}
