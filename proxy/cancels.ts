import type { Committer } from '../shared/db.js';
import { CANCELLED_BY_CLIENT, isTerminal } from '../shared/job.js';
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
    for (const id of ids) {
      if (this.d.schedules.cancel(id)) continue;
      if (this.d.tasks.cancel(id)) continue;
      const job = this.d.table.get(id);
      if (job && !isTerminal(job.state)) this.end(job, CANCELLED_BY_CLIENT);
    }
    if (reqId !== undefined) {
      const answer = () => this.d.views.answerViews(n, ids, reqId, true);
      // a schedule's cancel is written to etcd in a group: answered once it is there too
      this.d.committer.afterCommit(() => this.d.schedules.afterCommit(answer));
    }
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
