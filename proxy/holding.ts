import type { Logger } from '../shared/log.js';
import { AFTER_GRACE_MS } from './claim-waits.js';
import { Dependencies } from './dependencies.js';
import { DueQueue } from './due-queue.js';
import type { Job, JobTable } from './job-table.js';

export interface HoldingDeps {
  table: JobTable;
  /** A job may run now: into the queue (or, for a job of many tasks, its tasks are). */
  ready(job: Job): void;
  /** Ends a job that can never run: one of its dependencies failed or was cancelled. */
  doom(job: Job, error: string): void;
  /**
   * Waits until one of `unknown` arrives (then `retry`), or `deadline`; false when it will not
   * wait (the deadline passed, or a ticket is too old to be on its way).
   */
  waitFor?(unknown: string[], deadline: number, retry: () => void): boolean;
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
  /** Since when each job has waited for a dependency this proxy had not heard of. */
  private readonly unheard = new Map<string, number>();
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
    const unknown: string[] = [];
    for (const t of job.spec.after ?? []) {
      const dep = this.d.table.find(t);
      if (!dep) unknown.push(t);
      else if (dep.state === 'failed' || dep.state === 'cancelled') {
        this.unheard.delete(job.id);
        this.d.doom(job, dependencyFailed(t));
        return;
      } else if (dep.state !== 'done') waitFor.push(t);
    }
    if (unknown.length && this.awaitUnheard(job, unknown, now)) return;
    this.unheard.delete(job.id);
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

  /**
   * Dependencies this proxy has not heard of: ones that expired long after they ended (a job
   * waiting for one would have been doomed then: it ended done), or, on a new leader of a group
   * or a proxy on a new file, ones whose origin has not sent them again yet. A recent one is
   * waited for as a claim waits (AFTER_GRACE_MS), the job blocked meanwhile; after that it is
   * taken as expired. True while the job waits.
   */
  private awaitUnheard(job: Job, unknown: string[], now: number): boolean {
    if (!this.d.waitFor) return false;
    const since = this.unheard.get(job.id) ?? now;
    const waits = this.d.waitFor(unknown, since + AFTER_GRACE_MS, () => {
      // not if it was cancelled meanwhile
      if (job.state === 'blocked' && this.unheard.has(job.id)) this.admit(job);
    });
    if (!waits) return false;
    this.unheard.set(job.id, since);
    job.state = 'blocked';
    return true;
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
    this.unheard.delete(job.id);
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
