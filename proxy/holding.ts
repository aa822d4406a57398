import type { Logger } from '../shared/log.js';
import { Dependencies } from './dependencies.js';
import { DueQueue } from './due-queue.js';
import type { Job, JobTable } from './job-table.js';

export interface HoldingDeps {
  table: JobTable;
  /** A job may run now: into the queue (or, for a job of many tasks, its tasks are). */
  ready(job: Job): void;
  /** Ends a job that can never run: one of its dependencies failed or was cancelled. */
  doom(job: Job, error: string): void;
  log: Logger;
}

/** The error of a job cancelled because a job it waited for did not end done. */
export const dependencyFailed = (ticket: string) => `DEPENDENCY_FAILED ${ticket}`;

/**
 * Jobs held before the queue: `blocked` until the tickets in their `after` are done, then
 * `scheduled` until their due time (a delay, `runAt`, or a retry's backoff), then queued.
 * Nothing here is written: a held job's row already says why it waits (its state, `due_at`,
 * its spec's `after`), so a restarted proxy admits it again and gets the same answer.
 */
export class Holding {
  private readonly due = new DueQueue<Job>();
  private readonly deps = new Dependencies<Job>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private closed = false;

  constructor(private readonly d: HoldingDeps) {}

  get scheduled(): number {
    return this.due.size;
  }
  get blocked(): number {
    return this.deps.blocked;
  }

  /**
   * Places a job that may not have run yet (new, recovered, released, or run again): blocked,
   * scheduled, or into the queue. A dependency already failed dooms it at once.
   */
  admit(job: Job, now = Date.now()): void {
    const waitFor: string[] = [];
    for (const t of job.spec.after ?? []) {
      // a dependency no longer known expired long after it ended, and a job waiting for it
      // would have been doomed then: it ended done
      const dep = this.d.table.find(t);
      if (!dep || dep.state === 'done') continue;
      if (dep.state === 'failed' || dep.state === 'cancelled') {
        this.d.doom(job, dependencyFailed(t));
        return;
      }
      waitFor.push(t);
    }
    if (waitFor.length) {
      job.state = 'blocked';
      this.deps.block(job, waitFor);
      return;
    }
    if (job.dueAt !== null && job.dueAt > now) {
      job.state = 'scheduled';
      this.due.add(job, job.dueAt);
      this.arm();
      return;
    }
    job.state = 'queued';
    this.d.ready(job);
  }

  /** A job ended: the jobs waiting for it run now, or never. */
  settled(job: Job): void {
    if (job.state !== 'done' && job.state !== 'failed' && job.state !== 'cancelled') return;
    const { released, doomed } = this.deps.settle(job.id, job.state);
    for (const r of released) this.admit(r);
    for (const x of doomed) this.d.doom(x, dependencyFailed(job.id));
  }

  /** Takes a job out of waiting (it was cancelled). */
  remove(job: Job): void {
    if (this.due.remove(job)) this.arm();
    this.deps.forget(job);
  }

  /** One timer, armed for the earliest due time. */
  private arm(): void {
    const next = this.due.next();
    if (next === this.timerAt) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    if (next === undefined || this.closed) return;
    this.timerAt = next;
    this.timer = setTimeout(() => this.fire(), Math.max(0, next - Date.now()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const due = this.due.takeDue(Date.now());
    for (const job of due) {
      job.state = 'queued';
      this.d.ready(job);
    }
    this.arm();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
