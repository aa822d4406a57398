import type { Committer } from '../shared/db.js';
import { ticketTime } from '../shared/ids.js';
import type { Logger } from '../shared/log.js';
import type { WireJob } from '../shared/protocol.js';
import type { Assignments } from './assignments.js';
import type { Counters } from './counters.js';
import type { JobStore } from './job-store.js';
import type { Job, JobTable } from './job-table.js';
import type { JobTasks } from './job-tasks.js';
import type { NodeEntry } from './membership.js';
import type { Outbox } from './outbox.js';
import type { Results } from './results.js';

export interface IntakeDeps {
  table: JobTable;
  store: JobStore;
  assignments: Assignments;
  results: Results;
  tasks: JobTasks;
  outbox: Outbox;
  counters: Counters;
  committer: Committer;
  log: Logger;
}

/**
 * Jobs forwarded by their origin node: each is stored once (a resend is acked again, not
 * stored twice), queued, and acked to the origin only after its commit. A node may speak only
 * for the tickets it issued.
 */
export class Intake {
  private readonly startedAt = Date.now();

  constructor(private readonly d: IntakeDeps) {}

  onForwarded(n: NodeEntry, jobs: WireJob[]): void {
    const { counters, log } = this.d;
    for (const j of jobs) {
      if (j.origin !== n.id) {
        counters.bump('rejected');
        log.warn({ node: n.id, origin: j.origin }, 'a node forwarded another node’s job');
        continue;
      }
      const existing = this.known(j);
      if (!existing) {
        this.accept(n, j);
        continue;
      }
      if (existing.origin !== n.id) {
        // another node's ticket: a node may speak only for the tickets it issued
        counters.bump('rejected');
        log.warn({ node: n.id, job: j.id }, 'a node forwarded a job it did not issue');
        continue;
      }
      if (j.result) this.d.results.originDecided(existing, j.result);
      this.d.committer.afterCommit(() => this.d.outbox.ack(n, 'job', j.id));
    }
  }

  /**
   * The job already known by its ticket. Only a job already delivered is in the database but
   * not in memory, and its origin has its result, so it forwards it again only with that
   * result, or after this proxy's restart: the common case needs no read.
   */
  private known(j: WireJob): Job | undefined {
    const { table } = this.d;
    const live = table.get(j.id);
    if (live) return live;
    return j.result || ticketTime(j.id) < this.startedAt ? table.find(j.id) : undefined;
  }

  /** A job the proxy issues itself (a schedule's firing): stored and queued as if forwarded. */
  issue(j: WireJob): void {
    this.accept(undefined, j);
  }

  private accept(n: NodeEntry | undefined, j: WireJob): void {
    const { table, store, assignments, counters, outbox } = this.d;
    const job: Job = {
      id: j.id,
      spec: j.spec,
      origin: j.origin,
      submittedAt: j.submittedAt,
      seq: table.nextSeq(),
      state: j.result ? j.result.state : 'queued',
      node: j.result?.node ?? null,
      attempt: j.result ? 1 : 0,
      lostRuns: 0,
      placed: false,
      given: [],
      startedAt: j.result?.startedAt ?? null,
      result: j.result ?? null,
      delivered: Boolean(j.result),
      heapIndex: -1,
      sentAt: 0,
      parent: null,
      index: null,
    };
    counters.bump('submitted');
    if (j.result) counters.bump(j.result.state);
    else {
      table.add(job);
      // a job of many tasks is never dispatched itself: its tasks are, each a job of its own
      if (job.spec.tasks) this.d.tasks.accept(job);
      else assignments.enqueue(job);
      assignments.want();
    }
    store.insert(job, (err) => {
      if (!err && n) outbox.ack(n, 'job', job.id);
    });
  }
}
