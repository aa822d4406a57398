import { isTerminal } from '../shared/job.js';
import { lostRun, MAX_BATCH, type FrameOf } from '../shared/protocol.js';
import type { Assignments } from './assignments.js';
import type { JobTable } from './job-table.js';
import type { Membership, NodeEntry } from './membership.js';
import type { Outbox } from './outbox.js';
import type { Results } from './results.js';
import type { Schedules } from './schedules.js';

export interface NodeReportsDeps {
  table: JobTable;
  assignments: Assignments;
  results: Results;
  schedules: Schedules;
  members: Membership;
  outbox: Outbox;
}

/**
 * What nodes report of the jobs placed on them: acks, starts, and answers to the sweep that
 * asks them.
 */
export class NodeReports {
  constructor(private readonly d: NodeReportsDeps) {}

  /** The node acked these dispatches. */
  onPlaced(n: NodeEntry, ids: string[]): void {
    for (const id of ids) {
      const job = this.d.table.get(id);
      // placement and start are kept in memory only: after a proxy restart, each node's HELLO
      // says again what it holds and runs
      if (job && job.node === n.id && !isTerminal(job.state)) {
        this.d.assignments.notePlaced(n, job);
        job.placed = true;
      }
    }
  }

  onStarted(n: NodeEntry, id: string, at: number): void {
    const job = this.d.table.get(id);
    if (job && job.node === n.id && (job.state === 'assigned' || job.state === 'queued')) {
      job.state = 'running';
      job.startedAt = at;
    }
  }

  onResReq(n: NodeEntry, f: FrameOf<'RES_REQ'>): void {
    const { table, assignments, results } = this.d;
    if (f.results.length) results.onResults(n, f.results);
    for (const id of f.missing) {
      const job = table.get(id);
      if (job && job.node === n.id && !isTerminal(job.state)) assignments.requeue(job, false);
    }
    // runs lost on the node (a worker left or went silent) count against maxAttempts
    for (const { id, why } of f.lost.map(lostRun)) {
      const job = table.get(id);
      if (job && job.node === n.id && !isTerminal(job.state)) {
        assignments.requeue(job, true, undefined, why);
      }
    }
    results.onRequested(n, f.requests);
    this.d.schedules.requested(n.id, f.requests);
    assignments.want();
  }

  /**
   * The REQUEST_OF_RES sweep: asks each node for results of jobs placed on it at least a
   * period ago, and resends dispatches and results that went unacknowledged for a period (a
   * lost frame). A job placed since the last sweep is asked at the next one: its result is
   * usually on its way, and a node busy with short jobs is not asked about each of them.
   */
  sweep(periodMs: number, now = Date.now()): void {
    this.d.outbox.resendPeriod(periodMs);
    for (const n of this.d.members.nodes.values()) {
      if (!n.conn) continue;
      const ids: string[] = [];
      for (const job of n.jobs) {
        if (now - job.sentAt < periodMs) continue;
        if (!job.placed) this.d.assignments.send(job, n);
        else if (ids.length < MAX_BATCH) ids.push(job.id);
      }
      if (ids.length) n.conn.send({ type: 'REQUEST_OF_RES', ids });
      n.conn.out.flush();
    }
    this.d.results.resendDue(periodMs, now);
    this.d.outbox.flush();
  }
}
