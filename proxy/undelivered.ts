import { EXPIRE_CHUNK } from '../shared/expiry.js';
import { ticketTime } from '../shared/ids.js';
import { isTerminal } from '../shared/job.js';
import type { Logger } from '../shared/log.js';
import type { Job, JobTable } from './job-table.js';
import type { UndeliveredRows } from './undelivered-store.js';

/** The most origins one log line names. */
const LOGGED_ORIGINS = 10;

export interface UndeliveredDeps {
  rows: UndeliveredRows;
  table: JobTable;
  /** An expired job of many tasks: its tasks leave memory with it. */
  dropTasks(job: Job): void;
  /** Whether `id` is a schedule's ticket (schedules have no row in jobs). */
  isSchedule(id: string): boolean;
  log: Logger;
}

/**
 * Results whose origin never came back for them: an origin gone for good (a scaled-down
 * replica, a wiped disk rejoining under a new id) would otherwise leave them in the table and
 * in memory for ever. They expire as delivered ones do, RESULT_TTL after they finished: by then
 * a delivered copy has expired at its origin too, and any node asking the proxy no longer finds
 * it, so nobody could still read it. An origin that does come back and asks for such a ticket
 * is told its result expired (`expiredHere`), and ends the ticket failed rather than waiting.
 */
export class UndeliveredResults {
  /** Results that finished before this time are gone (the stored mark). */
  private below: number;
  /** Jobs whose undelivered result this process deleted (a metric). */
  expired = 0;

  constructor(private readonly d: UndeliveredDeps) {
    this.below = d.rows.expiredBelow();
  }

  /**
   * Deletes undelivered results that finished before `before`, at most `limit` jobs (their
   * tasks go with them); returns how many jobs. A job memory holds otherwise stays: its origin
   * has just acknowledged it, or RETRY runs it again, and the file only lags behind.
   */
  expire(before: number, limit = EXPIRE_CHUNK): number {
    const { rows, table, log } = this.d;
    rows.raiseBelow(before);
    this.below = Math.max(this.below, before);
    const found = rows.found(before, limit).filter((r) => {
      const job = table.get(r.id);
      return !job || (isTerminal(job.state) && !job.delivered);
    });
    if (found.length === 0) return 0;
    const deleted = rows.delete(found);
    for (const r of found) {
      const job = table.get(r.id);
      table.delete(r.id);
      if (job?.spec.tasks) this.d.dropTasks(job);
    }
    this.expired += found.length;
    const origins = [...new Set(found.map((r) => r.origin))];
    log.info(
      { jobs: found.length, rows: deleted, origins: origins.slice(0, LOGGED_ORIGINS) },
      'expired results never delivered: their origins stayed away past RESULT_TTL',
    );
    return found.length;
  }

  /**
   * Whether an origin asking for `id`, which no row holds, is to be told its result expired:
   * its ticket was issued before the results kept here (a schedule's ticket has no row, and
   * an unfinished job always has one: a new leader learns it, forwarded again, before the
   * origin asks).
   */
  expiredHere(id: string): boolean {
    return ticketTime(id) < this.below && !this.d.isSchedule(id);
  }
}
