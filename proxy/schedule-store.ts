import type { Committer, Db } from '../shared/db.js';
import type { JobSpec } from '../shared/job.js';
import type { WireJob } from '../shared/protocol.js';

export const SCHEDULE_SCHEMA = `
-- Schedules (jobs with cron): what each fires, and when next. next_due is a time, never an
-- interval, so a restarted proxy fires exactly what the stored time says is due. runs: the
-- newest tickets it fired (JSON array, newest first); each run is an ordinary row of jobs.
CREATE TABLE IF NOT EXISTS schedules (
  id TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  origin TEXT NOT NULL,
  submitted_at INTEGER NOT NULL,
  tz TEXT NOT NULL,
  next_due INTEGER,
  state TEXT NOT NULL,
  runs TEXT NOT NULL DEFAULT '[]',
  cancelled_at INTEGER
) WITHOUT ROWID;
`;

export interface ScheduleRecord {
  id: string;
  spec: JobSpec;
  origin: string;
  submittedAt: number;
  tz: string;
  nextDue: number | null;
  state: 'active' | 'cancelled';
  /** Tickets of its newest runs, newest first. */
  runs: string[];
  cancelledAt: number | null;
}

/** A row of the `schedules` table. */
export interface ScheduleRow {
  id: string;
  spec: string;
  origin: string;
  submitted_at: number;
  tz: string;
  next_due: number | null;
  state: 'active' | 'cancelled';
  runs: string;
  cancelled_at: number | null;
}

export const scheduleOfRow = (r: ScheduleRow): ScheduleRecord => ({
  id: r.id,
  spec: JSON.parse(r.spec) as JobSpec,
  origin: r.origin,
  submittedAt: r.submitted_at,
  tz: r.tz,
  nextDue: r.next_due,
  state: r.state,
  runs: JSON.parse(r.runs) as string[],
  cancelledAt: r.cancelled_at,
});

type After = (err?: Error) => void;

/**
 * Where schedules are kept: the proxy's own file (`ScheduleStore`), or, in a proxy group,
 * etcd (`GroupScheduleStore`), so that whichever proxy leads fires them.
 */
export interface ScheduleStorage {
  all(): ScheduleRecord[];
  insert(s: ScheduleRecord, after: After): void;
  /**
   * A firing: `s` already holds its next due time and newest runs; `issue` creates the run.
   * Both become durable together or the run is issued again by whoever leads next.
   */
  fired(s: ScheduleRecord, run: WireJob, issue: () => void): void;
  cancel(s: ScheduleRecord, after: After): void;
  /** Runs `fn` once everything written so far is durable. */
  afterCommit(fn: () => void): void;
  /** Forgets these schedules, cancelled before `before`. */
  expire(before: number, ids: readonly string[]): void;
  /** Runs fired earlier that must be issued again now (a proxy taking over a group). */
  unfinishedRuns(): WireJob[];
  /** A run reached its final state: it is never issued again. */
  runEnded(ticket: string): void;
}

/** The proxy's durable schedule table; writes ride the group commit with the jobs they fire. */
export class ScheduleStore implements ScheduleStorage {
  private readonly sql;

  constructor(
    db: Db,
    private readonly committer: Committer,
  ) {
    db.exec(SCHEDULE_SCHEMA);
    this.sql = {
      insert: db.prepare(
        `INSERT OR IGNORE INTO schedules (id, spec, origin, submitted_at, tz, next_due, state,
           runs, cancelled_at) VALUES (@id, @spec, @origin, @submittedAt, @tz, @nextDue, @state,
           @runs, @cancelledAt)`,
      ),
      fired: db.prepare('UPDATE schedules SET next_due = ?, runs = ? WHERE id = ?'),
      cancel: db.prepare(
        "UPDATE schedules SET state = 'cancelled', next_due = NULL, cancelled_at = ? WHERE id = ?",
      ),
      all: db.prepare<[], ScheduleRow>('SELECT * FROM schedules'),
      expire: db.prepare("DELETE FROM schedules WHERE state = 'cancelled' AND cancelled_at < ?"),
    };
  }

  all(): ScheduleRecord[] {
    return this.sql.all.all().map(scheduleOfRow);
  }

  insert(s: ScheduleRecord, after: After): void {
    const row = {
      ...s,
      spec: JSON.stringify(s.spec),
      runs: JSON.stringify(s.runs),
    };
    this.committer.write(() => this.sql.insert.run(row), after);
  }

  /** A firing: its next due time and runs, in the same transaction as the job it created. */
  fired(s: ScheduleRecord, _run: WireJob, issue: () => void): void {
    issue();
    const runs = JSON.stringify(s.runs);
    this.committer.write(() => this.sql.fired.run(s.nextDue, runs, s.id));
  }

  cancel(s: ScheduleRecord, after: After): void {
    this.committer.write(() => this.sql.cancel.run(s.cancelledAt, s.id), after);
  }

  /** Runs `fn` once everything queued so far is committed. */
  afterCommit(fn: () => void): void {
    this.committer.afterCommit(fn);
  }

  /** Deletes schedules cancelled before `before`. */
  expire(before: number): void {
    this.sql.expire.run(before);
  }

  /** A run and its firing commit together: none is ever left to issue again. */
  unfinishedRuns(): WireJob[] {
    return [];
  }

  runEnded(): void {}
}
