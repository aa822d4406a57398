import { taskTicket } from '../shared/ids.js';
import { isTerminal } from '../shared/job.js';
import { type JobResult, type JobView } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import type { Assignments } from './assignments.js';
import type { Counters } from './counters.js';
import type { JobStore } from './job-store.js';
import type { Job, JobTable } from './job-table.js';
import type { Membership } from './membership.js';
import { stragglers } from './speculation.js';
import { jobResult, progressOf, stateOf, taskSpec, taskViews } from './tasks.js';

export interface JobTasksDeps {
  table: JobTable;
  store: JobStore;
  assignments: Assignments;
  members: Membership;
  counters: Counters;
  log: Logger;
  /** Records a job's first result (and pushes it to its origin once committed). */
  finish(job: Job, r: JobResult): void;
}

/** A job of many tasks while the proxy holds it. */
interface Parent {
  readonly job: Job;
  /** Its tasks by index. */
  readonly tasks: Job[];
  /** Tasks not finished yet. */
  open: number;
  cancelled: boolean;
  /** Run times of the tasks that finished done, for spotting stragglers. */
  readonly durations: number[];
}

/**
 * Jobs of many tasks: each task is a job of its own for the durability rule (its own row, its
 * own dispatches, requeued alone when its node dies, its result recorded once); the job is
 * never dispatched. It ends when its last task does, and only then is its result, with every
 * task's outcome, pushed to its origin. With `speculate`, stragglers get a copy.
 */
export class JobTasks {
  private readonly parents = new Map<string, Parent>();
  private readonly speculative = new Set<Parent>();

  constructor(private readonly d: JobTasksDeps) {}

  /** A job with `tasks` was accepted: its tasks are stored and queued (before the job's row). */
  accept(job: Job): void {
    const { table, store, assignments } = this.d;
    const tasks = (job.spec.tasks ?? []).map((_, i) => {
      const t: Job = {
        id: taskTicket(job.id, i),
        spec: taskSpec(job.spec, i),
        origin: job.origin,
        submittedAt: job.submittedAt,
        seq: table.nextSeq(),
        state: 'queued',
        node: null,
        attempt: 0,
        lostRuns: 0,
        placed: false,
        given: [],
        startedAt: null,
        result: null,
        delivered: false,
        dueAt: null,
        failedRuns: 0,
        runs: [],
        heapIndex: -1,
        sentAt: 0,
        parent: job.id,
        index: i,
        batch: job.id,
      };
      table.add(t);
      store.insert(t);
      assignments.enqueue(t);
      return t;
    });
    this.track(job, tasks);
    assignments.want();
  }

  /** Rebuilds the jobs of tasks from the recovered rows; returns the tasks to queue or hold. */
  recover(jobs: Job[]): Job[] {
    const byParent = new Map<string, Job[]>();
    const others: Job[] = [];
    for (const j of jobs) {
      if (j.parent === null) others.push(j);
      else {
        const list = byParent.get(j.parent) ?? [];
        list.push(j);
        byParent.set(j.parent, list);
      }
    }
    const orphans: string[] = [];
    for (const [parentId, tasks] of byParent) {
      const job = this.d.table.get(parentId);
      if (!job) {
        // its job was delivered before the crash; the note on its tasks was not yet written
        for (const t of tasks) this.d.table.delete(t.id);
        orphans.push(...tasks.map((t) => t.id));
        continue;
      }
      tasks.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
      const p = this.track(job, tasks);
      for (const t of tasks) if (isTerminal(t.state)) this.ended(p, t);
      others.push(...tasks.filter((t) => !isTerminal(t.state)));
    }
    if (orphans.length) this.d.store.delivered(orphans);
    return others.filter((j) => !this.parents.has(j.id));
  }

  private track(job: Job, tasks: Job[]): Parent {
    const p: Parent = { job, tasks, open: tasks.length, cancelled: false, durations: [] };
    this.parents.set(job.id, p);
    if (job.spec.speculate) this.speculative.add(p);
    return p;
  }

  /** Whether `job` is a job of tasks (never dispatched itself). */
  has(id: string): boolean {
    return this.parents.has(id);
  }

  /** A task's first result was recorded. */
  taskEnded(task: Job): void {
    const p = task.parent === null ? undefined : this.parents.get(task.parent);
    if (p) this.ended(p, task);
  }

  private ended(p: Parent, task: Job): void {
    p.open--;
    const r = task.result;
    if (r?.state === 'done' && r.startedAt !== null) p.durations.push(r.finishedAt - r.startedAt);
    if (p.open > 0 || isTerminal(p.job.state)) return;
    this.speculative.delete(p);
    this.d.finish(p.job, jobResult(p.job.id, p.tasks, p.cancelled, Date.now()));
  }

  /** The job's result reached its origin: its tasks leave memory. */
  delivered(job: Job): void {
    const p = this.parents.get(job.id);
    if (!p) return;
    this.parents.delete(job.id);
    for (const t of p.tasks) this.d.table.delete(t.id);
    this.d.store.delivered(p.tasks.map((t) => t.id));
  }

  /** CANCEL of a job of tasks: every task still queued or running stops; true if it was one. */
  cancel(id: string, now = Date.now()): boolean {
    const p = this.parents.get(id);
    if (!p) return false;
    if (isTerminal(p.job.state)) return true;
    p.cancelled = true;
    for (const t of p.tasks) {
      if (isTerminal(t.state)) continue;
      this.d.finish(t, {
        id: t.id,
        state: 'cancelled',
        exitCode: null,
        output: '',
        error: 'cancelled by a client',
        node: t.node,
        attempt: t.attempt,
        startedAt: t.startedAt,
        finishedAt: now,
      });
    }
    return true;
  }

  /** A client's view of a job of tasks still held here, or null. */
  view(id: string, base: JobView): JobView | null {
    const p = this.parents.get(id);
    if (!p || isTerminal(p.job.state)) return null;
    return {
      ...base,
      state: stateOf(p.tasks, false),
      progress: progressOf(p.tasks),
      tasks: taskViews(p.tasks),
    };
  }

  /**
   * Copies stragglers of `speculate` jobs onto idle slots of other nodes; returns how many
   * copies started.
   */
  speculate(now = Date.now()): number {
    let copies = 0;
    for (const p of this.speculative) {
      const running = p.tasks.filter((t) => t.state === 'running' && !t.copy && t.startedAt);
      const slow = stragglers(
        running.map((t) => ({ task: t, startedAt: t.startedAt as number })),
        p.durations,
        p.tasks.length,
        now,
      );
      for (const { task } of slow) {
        const holder = task.node ? this.d.members.get(task.node) : undefined;
        if (this.d.assignments.copy(task, holder)) {
          this.d.counters.bump('speculated');
          copies++;
        }
      }
    }
    return copies;
  }

  /** Whether any job of tasks may need a copy (the conductor's timer runs only then). */
  get speculating(): boolean {
    return this.speculative.size > 0;
  }
}
