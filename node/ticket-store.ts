import type { Committer, Db } from '../shared/db.js';
import { EXPIRE_CHUNK } from '../shared/expiry.js';
import { ticketFloor } from '../shared/ids.js';
import type { JobSpec, TerminalState } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';
import { RecentTickets } from './recent-tickets.js';
import { ReportMark } from './report-mark.js';
import { upgradeTickets } from './schema.js';

export type TicketState = 'accepted' | 'forwarded' | TerminalState;

export interface TicketRow {
  id: string;
  spec: JobSpec;
  state: TicketState;
  submittedAt: number;
  result: JobResult | null;
}

interface RawTicket {
  id: string;
  spec: string;
  state: TicketState;
  submitted_at: number;
  result: string | null;
}

function fromRaw(r: RawTicket): TicketRow {
  return {
    id: r.id,
    spec: JSON.parse(r.spec) as JobSpec,
    state: r.state,
    submittedAt: r.submitted_at,
    result: r.result === null ? null : (JSON.parse(r.result) as JobResult),
  };
}

/** A ticket whose insert is queued, not yet run; `finished` once its job ended meanwhile. */
interface UnwrittenRow {
  finished?: { result: JobResult; json: string; reported: boolean };
}

/** The newest tickets in `state`, a literal so that SQLite reads the state's partial index. */
export function recentInStateSql(state: 'failed' | 'cancelled'): string {
  return `SELECT id, state FROM tickets WHERE state = '${state}' ORDER BY id DESC LIMIT ?`;
}

/**
 * The tickets this node issued. Reads are immediate; writes go through the group commit.
 * Results decided here that the proxy has not recorded yet are told by the report mark (see
 * report-mark.ts): the row's `here` is written by the statement that writes its result.
 */
export class TicketStore {
  private readonly sql;
  private readonly unwritten = new Map<string, UnwrittenRow>();
  private readonly finishedAtOnce = new RecentTickets();
  private readonly mark: ReportMark;
  /** A write of the mark is queued (one per commit is enough: it reads the latest state). */
  private markQueued = false;

  constructor(
    db: Db,
    private readonly committer: Committer,
  ) {
    upgradeTickets(db);
    this.sql = {
      insert: db.prepare(
        'INSERT OR IGNORE INTO tickets (id, spec, state, submitted_at) VALUES (?, ?, ?, ?)',
      ),
      insertFinished: db.prepare(
        `INSERT OR IGNORE INTO tickets (id, spec, state, submitted_at, result, finished_at, here)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      isHere: db.prepare<[string], { here: number }>('SELECT here FROM tickets WHERE id = ?'),
      storedMark: db.prepare<[], { below: string }>('SELECT below FROM report_mark'),
      setMark: db.prepare('UPDATE report_mark SET below = ?'),
      insertForwarded: db.prepare(
        "INSERT OR IGNORE INTO tickets (id, spec, state, submitted_at) VALUES (?, ?, 'forwarded', ?)",
      ),
      reopen: db.prepare(
        `UPDATE tickets SET state = 'forwarded', result = NULL, finished_at = NULL, here = 0
         WHERE id = ? AND state IN ('done', 'failed', 'cancelled')`,
      ),
      recentIn: db.prepare<[string, number], { id: string; state: TicketState }>(
        `SELECT id, state FROM tickets WHERE state IN (SELECT value FROM json_each(?))
         ORDER BY id DESC LIMIT ?`,
      ),
      get: db.prepare<[string], RawTicket>('SELECT * FROM tickets WHERE id = ?'),
      forwarded: db.prepare(
        "UPDATE tickets SET state = 'forwarded' WHERE id = ? AND state = 'accepted'",
      ),
      accepted: db.prepare(
        "UPDATE tickets SET state = 'accepted' WHERE id = ? AND state = 'forwarded'",
      ),
      finish: db.prepare(
        `UPDATE tickets SET state = ?, result = ?, finished_at = ?, here = ?
         WHERE id = ? AND state IN ('accepted', 'forwarded')`,
      ),
      open: db.prepare<[], RawTicket>(
        "SELECT * FROM tickets WHERE state IN ('accepted', 'forwarded') ORDER BY id",
      ),
      // a range of the primary key: W trails the newest tickets
      unreportedRows: db.prepare<[], RawTicket>(
        `SELECT * FROM tickets WHERE id >= (SELECT below FROM report_mark)
           AND here = 1 AND result IS NOT NULL ORDER BY id`,
      ),
      recent: db.prepare<[number], { id: string; state: TicketState }>(
        'SELECT id, state FROM tickets ORDER BY id DESC LIMIT ?',
      ),
      recentRows: db.prepare<[number], RawTicket>('SELECT * FROM tickets ORDER BY id DESC LIMIT ?'),
      failedRecent: db.prepare<[number], { id: string; state: TicketState }>(
        recentInStateSql('failed'),
      ),
      cancelledRecent: db.prepare<[number], { id: string; state: TicketState }>(
        recentInStateSql('cancelled'),
      ),
      expire: db.prepare(
        `DELETE FROM tickets WHERE id IN (SELECT id FROM tickets
           WHERE id < ? AND finished_at < ?
             AND (here = 0 OR id < (SELECT below FROM report_mark)) LIMIT ?)`,
      ),
    };
    const unacked = this.sql.unreportedRows.all().map((r) => r.id);
    this.mark = new ReportMark(this.storedMark(), unacked);
    // a rolled-back transaction (a full disk) may have moved the mark in memory only
    committer.onRollback(() => this.mark.reset(this.storedMark()));
  }

  /**
   * A result decided here was not written (its ticket had ended otherwise): unless an earlier
   * one of its own is on disk, the proxy has nothing of it to record. Rare: runs no statement
   * on the hot path.
   */
  private notWritten(id: string): void {
    if (this.sql.isHere.get(id)?.here !== 1) this.mark.acked(id);
  }

  private storedMark(): string {
    return (this.sql.storedMark.get() as { below: string }).below;
  }

  /**
   * Records a new ticket; `after` runs once it is on disk. The row is written when the
   * transaction runs: a job that ended meanwhile (`finish` before the commit) is written with
   * its result, in one statement. `specJson` is the spec's JSON when the caller made it already.
   */
  insert(
    id: string,
    spec: JobSpec,
    submittedAt: number,
    after: (err?: Error) => void,
    specJson = JSON.stringify(spec),
  ): void {
    const row: UnwrittenRow = {};
    this.unwritten.set(id, row);
    const write = () => {
      this.unwritten.delete(id);
      const f = row.finished;
      if (f === undefined) return void this.sql.insert.run(id, specJson, 'accepted', submittedAt);
      const { result, json, reported } = f;
      const { state, finishedAt } = result;
      const here = reported ? 0 : 1;
      const run = this.sql.insertFinished.run(
        id,
        specJson,
        state,
        submittedAt,
        json,
        finishedAt,
        here,
      );
      if (run.changes === 0) return this.notWritten(id);
      if (!reported && this.mark.lowers(id)) this.sql.setMark.run(id);
      // kept from here on, as SQL reads see the row from here on
      this.finishedAtOnce.add({ id, spec, state, submittedAt, result });
    };
    const done = (err?: Error) => {
      if (err) {
        // refused (a full disk): rolled back, never written
        this.unwritten.delete(id);
        this.finishedAtOnce.forget(id);
        this.mark.acked(id);
      }
      after(err);
    };
    // on a full disk the client is told at once rather than kept waiting for space
    this.committer.write(write, done, { refusable: true });
  }

  /** The disk is full: new tickets cannot be stored. */
  get diskFull(): boolean {
    return this.committer.full;
  }

  /** Records a ticket the proxy already holds (a claimed job); `after` runs once on disk. */
  insertForwarded(
    id: string,
    spec: JobSpec,
    submittedAt: number,
    after: (err?: Error) => void,
  ): void {
    const specJson = JSON.stringify(spec);
    this.committer.write(() => this.sql.insertForwarded.run(id, specJson, submittedAt), after);
  }

  /** Opens a final ticket again (RETRY): it waits for its new result. */
  reopen(id: string, after: (err?: Error) => void): void {
    this.finishedAtOnce.forget(id);
    this.committer.write(() => this.sql.reopen.run(id), after);
  }

  /** The newest tickets in one of `states` (failed or cancelled alone: from its index). */
  recentIn(
    states: readonly TicketState[],
    limit: number,
  ): Array<{ id: string; state: TicketState }> {
    if (states.length === 1 && states[0] === 'failed') return this.sql.failedRecent.all(limit);
    if (states.length === 1 && states[0] === 'cancelled') {
      return this.sql.cancelledRecent.all(limit);
    }
    return this.sql.recentIn.all(JSON.stringify(states), limit);
  }

  get(id: string): TicketRow | undefined {
    const recent = this.finishedAtOnce.get(id);
    if (recent) return recent;
    const raw = this.sql.get.get(id);
    return raw && fromRaw(raw);
  }

  /** Notes the proxy's ACK; deferred, since a crash before it commits only resends the job. */
  markForwarded(ids: readonly string[]): void {
    this.committer.defer(() => {
      for (const id of ids) this.sql.forwarded.run(id);
    });
  }

  /**
   * The proxy acknowledged these once but may no longer hold them (a new leader, a restored or
   * new file): they wait for its acknowledgement again, in this tick's commit.
   */
  markAccepted(ids: readonly string[]): void {
    this.committer.write(() => {
      for (const id of ids) this.sql.accepted.run(id);
    });
  }

  /**
   * Records a terminal result; `reported` false when the proxy still has to hear of it. `json`
   * is the result's JSON when the caller made it already. `lazy`: `after` promises no client
   * anything (an ack to the proxy), so the write shares the next sync (the Committer's lazy write).
   */
  finish(
    result: JobResult,
    reported: boolean,
    after?: (err?: Error) => void,
    json = JSON.stringify(result),
    lazy = false,
  ): void {
    if (!reported) this.mark.decided(result.id);
    const row = this.unwritten.get(result.id);
    if (row && row.finished === undefined) {
      // its insert, still queued, writes the result too; `after` waits for that commit
      row.finished = { result, json, reported };
      if (after) this.committer.afterCommit(after, { lazy });
      return;
    }
    const { id, state, finishedAt } = result;
    this.committer.write(
      () => {
        const run = this.sql.finish.run(state, json, finishedAt, reported ? 0 : 1, id);
        if (reported) return;
        if (run.changes === 0) this.notWritten(id);
        else if (this.mark.lowers(id)) this.sql.setMark.run(id);
      },
      after,
      { lazy },
    );
  }

  /**
   * Notes that the proxy recorded these results: the mark moves up past them (deferred, like
   * `markForwarded`; a crash before it commits only sends them again).
   */
  markReported(ids: readonly string[]): void {
    let moved = false;
    for (const id of ids) if (this.mark.acked(id)) moved = true;
    if (!moved || this.markQueued) return;
    this.markQueued = true;
    this.committer.defer(() => {
      this.markQueued = false;
      const w = this.mark.next(ticketFloor(Date.now()));
      if (w !== undefined) this.sql.setMark.run(w);
    });
  }

  /** Tickets not yet terminal, oldest first (used at start to rebuild in-memory state). */
  open(): TicketRow[] {
    return this.sql.open.all().map(fromRaw);
  }

  /**
   * Tickets whose result was decided here and the proxy may not have recorded yet (those at or
   * above the report mark; some may be recorded already, and taken again without harm).
   */
  unreported(): TicketRow[] {
    return this.sql.unreportedRows.all().map(fromRaw);
  }

  recent(limit: number): Array<{ id: string; state: TicketState }> {
    return this.sql.recent.all(limit);
  }

  /** The newest tickets with everything known of them, in one query. */
  recentRows(limit: number): TicketRow[] {
    return this.sql.recentRows.all(limit).map(fromRaw);
  }

  /**
   * Deletes finished tickets older than `before`, at most `limit` of them (see
   * shared/expiry.ts); returns how many.
   */
  expire(before: number, limit = EXPIRE_CHUNK): number {
    this.finishedAtOnce.clear();
    return this.sql.expire.run(ticketFloor(before), before, limit).changes;
  }
}
