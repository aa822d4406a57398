import type { Committer } from '../shared/db.js';
import { WireError, type WireCode } from '../shared/errors.js';
import { isTerminal, requestedRunAt } from '../shared/job.js';
import { type JobView } from '../shared/job-view.js';
import type { JobStore } from './job-store.js';
import { toView, type Job, type JobTable } from './job-table.js';
import type { Holding } from './holding.js';
import type { JobTasks } from './job-tasks.js';
import type { Membership, NodeEntry } from './membership.js';
import type { Schedules } from './schedules.js';

export interface RerunDeps {
  table: JobTable;
  store: JobStore;
  holding: Holding;
  members: Membership;
  committer: Committer;
  tasks: Pick<JobTasks, 'again'>;
  /** Schedules are no jobs of the table: RETRY refuses them by name. */
  schedules: Pick<Schedules, 'has'>;
}

export type Refusal = { code: WireCode; message: string };

/**
 * RETRY: a failed or cancelled job runs again under its ticket with a fresh budget (its runs
 * so far stay listed); of a job of tasks, the tasks that failed or were cancelled do. It waits
 * as a new job would: for its `runAt` or `delayMs` when that is still ahead, and for `after`. Its origin, which holds the ticket as final, is told to open it again
 * (REOPEN) until it confirms, so its clients see the job queued and then its new result.
 */
export class Rerun {
  /** Tickets run again whose origin has not yet confirmed it opened them (memory only). */
  private readonly reopening = new Set<string>();

  constructor(private readonly d: RerunDeps) {}

  /** RETRY from a node's client: answered once committed, with views or the refusal. */
  onRetry(n: NodeEntry, reqId: number, ids: string[]): void {
    this.retry(ids, (views, error) => n.conn?.send({ type: 'RES_REQ', reqId, views, error }));
  }

  /** RETRY from the proxy itself (the dashboard): the job's view once committed. */
  retryOne(ticket: string): Promise<JobView> {
    return new Promise((resolve, reject) =>
      this.retry([ticket], (views, error) => {
        const v = views[0];
        if (v) resolve(v);
        else reject(new WireError(error?.code ?? 'NOT_FOUND', error?.message));
      }),
    );
  }

  /**
   * Runs failed or cancelled jobs again (all of them, or none when one may not); `answer`
   * hears their views, or the refusal, once that is committed.
   */
  retry(ids: string[], answer: (views: JobView[], error?: Refusal) => void): void {
    let error: Refusal | undefined;
    const again: Job[] = [];
    for (const id of ids) {
      const job = this.d.table.find(id);
      error = job ? (refusal(job) ?? this.blockedForGood(job, ids)) : this.unknown(id);
      if (error) break;
      again.push(job as Job);
    }
    if (!error) for (const job of again) this.runAgain(job);
    // the views of what RETRY did (queued), taken now: by the time the commit is on disk the
    // job may run already, or a CANCEL that came right after may have ended it again
    const views = error ? [] : again.map((j) => toView(j));
    this.d.committer.afterCommit(() => answer(views, error));
  }

  /**
   * Why RETRY refuses a job that would only be cancelled again at once: a job it waits for
   * (`after`) failed or was cancelled and is not run again with it. It names that job.
   */
  private blockedForGood(job: Job, ids: readonly string[]): Refusal | undefined {
    for (const t of job.spec.after ?? []) {
      const dep = this.d.table.find(t);
      if (!dep || ids.includes(t) || (dep.state !== 'failed' && dep.state !== 'cancelled')) {
        continue;
      }
      return {
        code: 'BAD_REQUEST',
        message: `${job.id} waits for ${t}, which is ${dep.state}: RETRY ${t} first`,
      };
    }
    return undefined;
  }

  /** Why RETRY refuses `id`, which names no job: a schedule, or nothing. */
  private unknown(id: string): Refusal {
    if (!this.d.schedules.has(id)) return { code: 'NOT_FOUND', message: `no such ticket: ${id}` };
    return {
      code: 'BAD_REQUEST',
      message: `${id} is a schedule: it cannot run again; submit its job again instead`,
    };
  }

  private runAgain(job: Job): void {
    const { table, store, holding } = this.d;
    table.add(job);
    job.failedRuns = 0;
    job.lostRuns = 0;
    job.result = null;
    job.delivered = false;
    job.node = null;
    job.placed = false;
    job.startedAt = null;
    // the time its spec asks for still holds: a job cancelled while it waited for it waits
    // for it again (scheduled, as its view's runAt says), never runs early
    job.dueAt = requestedRunAt(job.spec, job.submittedAt) ?? null;
    if (!job.spec.tasks || !this.d.tasks.again(job)) holding.admit(job);
    store.save(job);
    this.reopening.add(job.id);
    this.d.committer.afterCommit((err) => {
      if (!err) this.sendReopen(job.origin, [job.id]);
    });
  }

  private sendReopen(origin: string, ids: string[]): void {
    if (ids.length) this.d.members.get(origin)?.conn?.send({ type: 'REOPEN', ids });
  }

  /** The origin opened these tickets again. */
  onReopened(ids: string[]): void {
    for (const id of ids) this.reopening.delete(id);
  }

  /** A node joined: tickets of its still waiting to be opened again are sent again. */
  rejoined(nodeId: string): void {
    const ids: string[] = [];
    for (const id of this.reopening) {
      const job = this.d.table.get(id);
      if (!job) this.reopening.delete(id);
      else if (job.origin === nodeId) ids.push(id);
    }
    this.sendReopen(nodeId, ids);
  }
}

function refusal(job: Job): Refusal | undefined {
  if (job.parent !== null) {
    return {
      code: 'BAD_REQUEST',
      message: `${job.id} is a task: RETRY its job's ticket to run its failed tasks again`,
    };
  }
  if (job.state === 'failed' || job.state === 'cancelled') return undefined;
  const state: JobView['state'] = job.state === 'assigned' ? 'queued' : job.state;
  const why = isTerminal(state) ? 'is done' : `is ${state}, not finished`;
  return {
    code: 'BAD_REQUEST',
    message: `${job.id} ${why}: only a failed or cancelled job runs again`,
  };
}
