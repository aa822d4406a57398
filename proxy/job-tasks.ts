import { taskTicket } from '../shared/ids.js';
import { CANCELLED_BY_CLIENT, isTerminal } from '../shared/job.js';
import { type JobResult, type JobView } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import type { Assignments } from './assignments.js';
import { ConcurrencyGate } from './concurrency.js';
import type { Counters } from './counters.js';
import type { JobStore } from './job-store.js';
import { newJob, type Job, type JobTable } from './job-table.js';
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
  /** The job's `concurrency`: permits for its tasks, when it has one. */
  readonly gate?: ConcurrencyGate<Job>;
}

/**
 * Jobs of many tasks: each task is a job of its own for the durability rule (its own row, its
 * own dispatches, requeued alone when its node dies, its result recorded once); the job is
 * never dispatched. It ends when its last task does, and only then is its result, with every
 * task's outcome, pushed to its origin. With `speculate`, stragglers get a copy. With
 * `concurrency`, tasks beyond it wait here, queued, for a permit (see concurrency.ts).
 */
export class JobTasks {
  private readonly parents = new Map<string, Parent>();
  private readonly speculative = new Set<Parent>();

  constructor(private readonly d: JobTasksDeps) {}

  /**
   * A job with `tasks` was accepted: its tasks are stored and queued (before the job's row).
   * A task a node held when this proxy took over a group was adopted before its job came
   * again: that copy becomes the task, running (or finished) where it is, never run again.
   */
  accept(job: Job): void {
    const { table, store, assignments } = this.d;
    const fresh = new Set<Job>();
    const tasks = (job.spec.tasks ?? []).map((_, i) => {
      const copy = table.takeAdopted(taskTicket(job.id, i));
      if (copy && copy.parent === null) return this.takeOver(job, i, copy);
      const t = this.newTask(job, i);
      table.add(t);
      store.insert(t);
      fresh.add(t);
      return t;
    });
    const p = this.track(job, tasks);
    for (const t of tasks) {
      if (isTerminal(t.state)) this.ended(p, t);
      // held by a node: it keeps its permit, as after a restart
      else if (!fresh.has(t) && t.node !== null) p.gate?.force(t);
    }
    for (const t of fresh) assignments.enqueue(t);
    assignments.want();
  }

  private newTask(job: Job, i: number): Job {
    return newJob({
      id: taskTicket(job.id, i),
      spec: taskSpec(job.spec, i),
      origin: job.origin,
      submittedAt: job.submittedAt,
      seq: this.d.table.nextSeq(),
      parent: job.id,
      index: i,
      batch: job.id,
    });
  }

  /** An adopted copy becomes task `i` of `job` (its result, if any, was nobody else's). */
  private takeOver(job: Job, i: number, held: Job): Job {
    held.parent = job.id;
    held.index = i;
    held.batch = job.id;
    held.delivered = false;
    this.d.table.add(held);
    this.d.store.makeTask(held.id, job.id, i);
    this.d.log.info({ job: job.id, task: i, node: held.node }, 'a held task is kept, not rerun');
    return held;
  }

  /**
   * RETRY of a failed or cancelled job of tasks: its failed and cancelled tasks run again with
   * a fresh budget, those done keep their results. False when it never had tasks (a dependency
   * doomed it first): then it is admitted as a new job is.
   */
  again(job: Job): boolean {
    const { table, store, assignments } = this.d;
    const specs = job.spec.tasks ?? [];
    const found = specs.map((_, i) => table.find(taskTicket(job.id, i)));
    if (found.every((t) => t === undefined)) return false;
    const rerun: Job[] = [];
    const tasks = found.map((t, i) => {
      if (!t) {
        const fresh = this.newTask(job, i);
        table.add(fresh);
        store.insert(fresh);
        rerun.push(fresh);
        return fresh;
      }
      table.add(t);
      t.delivered = false;
      if (t.state !== 'done') {
        reset(t);
        rerun.push(t);
      }
      store.save(t);
      return t;
    });
    job.state = 'queued';
    const p = this.track(job, tasks);
    for (const t of tasks) if (isTerminal(t.state)) this.ended(p, t);
    for (const t of rerun) assignments.enqueue(t);
    assignments.want();
    return true;
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
      for (const t of tasks) {
        if (isTerminal(t.state)) this.ended(p, t);
        // held by a node: it keeps its permit (its node says, when it joins, if it still runs)
        else if (t.node !== null) p.gate?.force(t);
      }
      others.push(...tasks.filter((t) => !isTerminal(t.state)));
    }
    if (orphans.length) this.d.store.delivered(orphans);
    return others.filter((j) => !this.parents.has(j.id));
  }

  private track(job: Job, tasks: Job[]): Parent {
    const limit = job.spec.concurrency;
    const gate = limit === undefined ? undefined : new ConcurrencyGate<Job>(limit);
    const p: Parent = { job, tasks, open: tasks.length, cancelled: false, durations: [], gate };
    this.parents.set(job.id, p);
    if (job.spec.speculate) this.speculative.add(p);
    return p;
  }

  /** Whether `job` is a job of tasks (never dispatched itself). */
  has(id: string): boolean {
    return this.parents.has(id);
  }

  /**
   * `task` may go into the queue for a node now: false while its job's `concurrency` is
   * reached (it waits in line here and is queued when a permit frees).
   */
  mayQueue(task: Job): boolean {
    const gate = this.gateOf(task);
    return !gate || gate.ask(task);
  }

  /**
   * `task` left its node and the queue (its run ended, or waits out a retry's backoff): its
   * permit passes to the next task in line.
   */
  released(task: Job): void {
    const gate = this.gateOf(task);
    if (gate) this.queue(gate.free(task));
  }

  private gateOf(task: Job): ConcurrencyGate<Job> | undefined {
    return task.parent === null ? undefined : this.parents.get(task.parent)?.gate;
  }

  /** Queues tasks just given a permit. */
  private queue(tasks: Job[]): void {
    for (const t of tasks) this.d.assignments.enqueue(t);
    if (tasks.length) this.d.assignments.want();
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
    const result = jobResult(p.job.id, p.tasks, p.cancelled, Date.now());
    this.d.finish(p.job, { ...result, attempt: mostRuns(p.tasks) });
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
    p.gate?.close();
    for (const t of p.tasks) {
      if (isTerminal(t.state)) continue;
      this.d.finish(t, {
        id: t.id,
        state: 'cancelled',
        exitCode: null,
        output: '',
        error: CANCELLED_BY_CLIENT,
        node: t.node,
        attempt: t.attempt,
        startedAt: t.startedAt,
        finishedAt: now,
      });
    }
    return true;
  }

  /**
   * A client's view of a job of tasks still held here, or of one of its tasks waiting for a
   * permit; null otherwise.
   */
  view(id: string, base: JobView): JobView | null {
    const p = this.parents.get(id);
    if (!p) {
      const task = this.d.table.get(id);
      const gate = task && this.gateOf(task);
      if (!task || !gate?.waits(task) || base.waiting) return null;
      return { ...base, waiting: gate.reason() };
    }
    if (isTerminal(p.job.state)) return null;
    const view: JobView = {
      ...base,
      state: stateOf(p.tasks, false),
      attempts: mostRuns(p.tasks),
      progress: progressOf(p.tasks),
      tasks: taskViews(p.tasks),
    };
    const waiting = base.waiting ?? p.gate?.reason();
    if (waiting) view.waiting = waiting;
    return view;
  }

  /**
   * Copies stragglers of `speculate` jobs onto idle slots of other nodes; returns how many
   * copies started.
   */
  speculate(now = Date.now()): number {
    let copies = 0;
    for (const p of this.speculative) {
      // a copy that ended gave its permit back
      if (p.gate) this.queue(p.gate.pump());
      const running = p.tasks.filter((t) => t.state === 'running' && !t.copy && t.startedAt);
      const slow = stragglers(
        running.map((t) => ({ task: t, startedAt: t.startedAt as number })),
        p.durations,
        p.tasks.length,
        now,
      );
      for (const { task } of slow) {
        if (p.gate && !p.gate.mayCopy(task)) continue;
        const holder = task.node ? this.d.members.get(task.node) : undefined;
        if (this.d.assignments.copy(task, holder)) {
          p.gate?.copied(task);
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

/**
 * A job of tasks' `attempts`: the most runs one of its tasks took (a retry, a RETRY, a copy, a
 * run lost with its node each count), as a job's own `attempts` counts its runs.
 */
function mostRuns(tasks: readonly Job[]): number {
  let most = 0;
  for (const t of tasks) most = Math.max(most, t.attempt, t.result?.attempt ?? 0);
  return most;
}

/** A task about to run again under RETRY: a fresh budget, its runs so far still listed. */
function reset(t: Job): void {
  t.state = 'queued';
  t.failedRuns = 0;
  t.lostRuns = 0;
  t.result = null;
  t.node = null;
  t.copy = undefined;
  t.placed = false;
  t.startedAt = null;
  t.dueAt = null;
}
