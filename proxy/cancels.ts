import type { Committer } from '../shared/db.js';
import { CANCELLED_BY_CLIENT, isTerminal } from '../shared/job.js';
import type { JobView } from '../shared/job-view.js';
import type { Job, JobTable } from './job-table.js';
import type { JobTasks } from './job-tasks.js';
import type { NodeEntry } from './membership.js';
import type { Results } from './results.js';
import type { Schedules } from './schedules.js';
import type { TicketViews } from './ticket-views.js';

export interface CancelsDeps {
  table: JobTable;
  results: Results;
  schedules: Schedules;
  tasks: JobTasks;
  views: TicketViews;
  committer: Committer;
}

/** Ending jobs before they finish: a client's CANCEL, or a job that can never run. */
export class Cancels {
  constructor(private readonly d: CancelsDeps) {}

  onCancel(n: NodeEntry, ids: string[], reqId: number | undefined): void {
    for (const id of ids) this.cancel(id);
    if (reqId !== undefined) this.afterCancel(() => this.d.views.answerViews(n, ids, reqId, true));
  }

  /**
   * CANCEL from the proxy itself (the dashboard): the job's view once the cancel is committed
   * (a running job's shows it running until its node reports the stop); null: no such job.
   */
  cancelOne(id: string): Promise<JobView | null> {
    this.cancel(id);
    return new Promise((resolve) => this.afterCancel(() => resolve(this.d.views.view(id))));
  }

  private cancel(id: string): void {
    if (this.d.schedules.cancel(id) || this.d.tasks.cancel(id)) return;
    const job = this.d.table.get(id);
    if (job && !isTerminal(job.state)) this.end(job, CANCELLED_BY_CLIENT);
  }

  /** Runs `fn` once cancels made so far are durable: a schedule's is in etcd in a group. */
  private afterCancel(fn: () => void): void {
    this.d.committer.afterCommit(() => this.d.schedules.afterCommit(fn));
  }

  /** A job that can never run: a job it waits for failed or was cancelled. */
  doom(job: Job, error: string): void {
    this.end(job, error);
  }

  /** Ends a job that has not finished as cancelled, with `error` saying why. */
  private end(job: Job, error: string): void {
    // a running job's result keeps what it printed: it waits for its node's report of the stop
    this.d.results.awaitStop(job);
    this.d.results.finish(
      job,
      {
        id: job.id,
        state: 'cancelled',
        exitCode: null,
        output: '',
        error,
        node: job.node,
        attempt: job.attempt,
        startedAt: job.startedAt,
        finishedAt: Date.now(),
      },
      false,
    );
  }
}
