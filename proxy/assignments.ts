import type { Committer } from '../shared/db.js';
import type { JobResult } from '../shared/job-view.js';
import type { Counters } from './counters.js';
import { Dispatcher } from './dispatcher.js';
import type { JobStore } from './job-store.js';
import type { Job } from './job-table.js';
import { countJob, uncountJob, type Membership, type NodeEntry } from './membership.js';
import type { Outbox } from './outbox.js';
import type { NodeCaps } from './placement.js';
import type { Policy } from './policies.js';
import { wireJobJson } from '../shared/wire-text.js';
import { specJson } from './job-text.js';
import { DispatchHold } from './dispatch-hold.js';
import { DEFAULT_MAX_PER_SLOT, type PrefetchLimits } from './prefetch.js';
import { isCustomJob, TypedQueue } from './worker-types.js';

const NO_LABELS: ReadonlySet<string> = new Set();

/** A tenant's share of the work, as the dashboard and /metrics show it. */
export interface TenantLoad {
  name: string;
  weight: number;
  queued: number;
  outstanding: number;
}

export interface AssignmentsOptions {
  prefetch: number;
  /** 0: dispatch on every event; > 0: the seed's periodic batched dispatch. */
  dispatchPeriod: number;
  maxJobsPerDispatch: number;
  /** TENANT_WEIGHTS. */
  weights?: ReadonlyMap<string, number>;
}

export interface AssignmentsDeps {
  store: JobStore;
  members: Membership;
  outbox: Outbox;
  counters: Counters;
  committer: Committer;
  /** Ends a job whose runs are used up (LOST). */
  fail(job: Job, r: JobResult): void;
  /** False while a task's job has its `concurrency` reached: the task waits there instead. */
  mayQueue(job: Job): boolean;
}

/**
 * Which job is given to which node, and taking it back: the queue and the policy's choice
 * (the dispatcher), the dispatch frames, and requeueing a job whose node let go of it.
 */
export class Assignments {
  private readonly dispatcher: Dispatcher<Job, NodeEntry>;
  /** Jobs of custom types: placed only where a worker serves their type. */
  private readonly typed = new TypedQueue<Job, NodeEntry>();
  private wanted = false;
  private periodicBudget = 0;
  /** Adaptive prefetch's bounds (asked on every ACK and RESULT). */
  private readonly limits: PrefetchLimits;
  private readonly pause = new DispatchHold(() => this.want());

  constructor(
    newPolicy: () => Policy,
    private readonly opts: AssignmentsOptions,
    private readonly d: AssignmentsDeps,
  ) {
    this.limits = { base: opts.prefetch, maxPerSlot: DEFAULT_MAX_PER_SLOT };
    this.dispatcher = new Dispatcher<Job, NodeEntry>(newPolicy, {
      prefetch: opts.prefetch,
      periodic: opts.dispatchPeriod > 0,
      weights: opts.weights,
    });
  }

  /** What a node offers, from its HELLO (and, later, its workers' types). */
  setCaps(n: NodeEntry, caps: NodeCaps): void {
    this.dispatcher.setCaps(n, caps);
    this.labels.set(n.id, caps.labels);
  }

  /** A node's NODE_LABELS, for custom-type jobs with constraints. */
  readonly nodeLabels = (id: string): ReadonlySet<string> => this.labels.get(id) ?? NO_LABELS;
  private readonly labels = new Map<string, ReadonlySet<string>>();

  /** Why a queued job cannot be placed on any joined node, or undefined. */
  waiting(job: Job): string | undefined {
    if (job.state !== 'queued' || isCustomJob(job.spec)) return undefined;
    return this.dispatcher.waiting(job);
  }

  /** A job recovered as held by `n` (after a restart) counts against its node and tenant. */
  recovered(job: Job, n: NodeEntry): void {
    this.take(job, n);
  }

  /** `n` now holds `job`: it counts against the node's room and the job's tenant. */
  private take(job: Job, n: NodeEntry): void {
    if (!n.jobs.has(job)) {
      countJob(n, job);
      // custom types are placed by the typed queue, by their workers' capacity
      if (!isCustomJob(job.spec)) this.dispatcher.hold(job, n);
    }
    this.refresh(n);
  }

  /** `n` no longer holds `job`; false when it did not. */
  private letGo(job: Job, n: NodeEntry): boolean {
    if (!n.jobs.has(job)) return false;
    uncountJob(n, job);
    if (!isCustomJob(job.spec)) this.dispatcher.release(job, n);
    this.refresh(n);
    return true;
  }

  get queueLength(): number {
    return this.dispatcher.size + this.typed.size;
  }

  /** Each tenant seen: its weight, its jobs queued and its jobs out on nodes. */
  tenants(): TenantLoad[] {
    return [...this.dispatcher.tenants.all()].map((t) => ({
      name: t.name,
      weight: t.weight,
      queued: t.queued,
      outstanding: t.active,
    }));
  }

  /** Puts a job in the queue (new, or recovered as queued), unless it must wait for a permit. */
  enqueue(job: Job): void {
    if (!this.d.mayQueue(job)) return;
    if (isCustomJob(job.spec)) this.typed.enqueue(job);
    else this.dispatcher.enqueue(job);
  }

  /** Takes a job out of the queue if it waits there. */
  unqueue(job: Job): boolean {
    return this.dispatcher.remove(job) || this.typed.remove(job);
  }

  /** Says whether `n` may be given work now, after its connection or draining changed. */
  refresh(n: NodeEntry): void {
    this.dispatcher.refresh(n, Boolean(n.conn) && !n.draining);
  }

  /** Takes a finishing job off its node (stopping another node's copy) and out of the queue. */
  release(job: Job, reporter: NodeEntry | undefined): void {
    for (const id of [job.node, job.copy]) {
      const holder = id ? this.d.members.get(id) : undefined;
      if (!holder || !this.letGo(job, holder)) continue;
      if (holder !== reporter) this.d.outbox.cancel(holder, job.id); // another copy: stop it
      this.want();
    }
    job.copy = undefined;
    this.unqueue(job);
  }

  /**
   * Starts a speculative copy of a running task on an idle slot of another node than
   * `holder`; false when no node has one. The copy is kept in memory only: after a proxy
   * restart its node is told to drop it.
   */
  copy(job: Job, holder: NodeEntry | undefined): boolean {
    const n = this.dispatcher.idleFor(job, holder);
    if (!n || job.copy) return false;
    job.copy = n.id;
    job.attempt++;
    if (!job.given.includes(n.id)) job.given.push(n.id);
    this.take(job, n);
    this.send(job, n);
    this.d.outbox.flush();
    return true;
  }

  /** Asks for a dispatch in the coming tick (immediate mode only). */
  want(): void {
    if (this.opts.dispatchPeriod > 0) return;
    this.wanted = true;
    this.d.committer.kick();
  }

  /**
   * Gives out no work for `ms`: a proxy taking over a group first lets the nodes say what they
   * hold, so a job still running on one is not started again on another.
   */
  holdFor(ms: number): void {
    this.pause.holdFor(ms);
  }

  /** Its term is over: the pause's timer goes. */
  close(): void {
    this.pause.close();
  }

  /** Runs the wanted dispatch, inside the tick's commit; true when it ran. */
  dispatchIfWanted(): boolean {
    if (!this.wanted || this.pause.held()) return false;
    this.dispatch();
    return true;
  }

  /** The seed's periodic mode: called every DISPATCH_PERIOD. */
  periodicDispatch(): void {
    if (this.pause.held()) return;
    this.periodicBudget = this.opts.maxJobsPerDispatch;
    this.dispatch();
    this.periodicBudget = 0;
  }

  /** Gives queued jobs to nodes with room, as the policy chooses. */
  private dispatch(): void {
    this.wanted = false;
    const budget = this.opts.dispatchPeriod > 0 ? this.periodicBudget : Infinity;
    this.dispatcher.run(budget, (job, n) => this.assign(job, n));
    const nodes = this.d.members.nodes.values();
    const place = (job: Job, n: NodeEntry) => this.assign(job, n);
    this.typed.run(nodes, this.opts.prefetch, budget, place, this.nodeLabels);
  }

  /** Gives `job` to `n` (also used when a joining node still holds a queued job's copy). */
  assign(job: Job, n: NodeEntry): void {
    job.state = 'assigned';
    job.node = n.id;
    job.attempt++;
    job.placed = false;
    if (!job.given.includes(n.id)) job.given.push(n.id);
    this.take(job, n);
    // An assignment promises nothing to anyone, so the job leaves before it is committed: if
    // this process dies first, the node's HELLO says it holds the job and the restarted proxy
    // gives it back to that node (or tells it to drop it).
    this.send(job, n);
    // a job that arrived this tick is not stored yet: its insert will carry the assignment
    if (job.stored) this.d.store.assign(job);
  }

  /**
   * The origin `n` started `job` itself (LOCAL_START): recorded as placed and running there,
   * counted against its room and tenant like any dispatch, and run again elsewhere if `n` dies.
   */
  startedHere(job: Job, n: NodeEntry): void {
    job.state = 'running';
    job.node = n.id;
    job.attempt = 1;
    // it started as it was submitted (an origin starts a job only into a free slot), by the
    // origin's clock, as its result will say
    job.startedAt = job.submittedAt;
    job.placed = true;
    if (!job.given.includes(n.id)) job.given.push(n.id);
    this.take(job, n);
  }

  /** Sends (or resends) the dispatch of `job` to `n`. */
  send(job: Job, n: NodeEntry): void {
    if (!n.conn) return;
    this.d.outbox.job(n, wireJobJson(job, specJson(job), { attempt: job.attempt }));
    job.sentAt = Date.now();
  }

  /**
   * `n` acknowledged the dispatch of `job`: the time since it was sent is one round trip,
   * which adaptive prefetch needs to keep `n`'s slots busy between short jobs.
   */
  notePlaced(n: NodeEntry, job: Job, now = Date.now()): void {
    if (job.placed || job.sentAt === 0) return;
    n.pace.observeRoundTrip(now - job.sentAt);
    this.adapt(n);
  }

  /**
   * `n` reported the result of `job` before acknowledging it (a node leaves out the ACK of a
   * job whose result went first): the time since the dispatch, less the run, is the round trip.
   */
  noteReported(n: NodeEntry, job: Job, r: JobResult, now = Date.now()): void {
    if (job.placed || job.sentAt === 0 || job.node !== n.id || r.startedAt === null) return;
    n.pace.observeRoundTrip(now - job.sentAt - (r.finishedAt - r.startedAt));
    this.adapt(n);
  }

  /** Jobs `n` may hold beyond its slots now. */
  holdOf(n: NodeEntry): number {
    return this.dispatcher.holdOf(n);
  }

  /** Results from `n`: how long its runs take. */
  noteRuns(n: NodeEntry, results: readonly JobResult[], now = Date.now()): void {
    n.pace.observeCompletions(results.length, now);
    for (const r of results) {
      if (r.startedAt !== null && r.state === 'done') n.pace.observeRun(r.finishedAt - r.startedAt);
    }
    this.adapt(n);
  }

  private adapt(n: NodeEntry): void {
    const hold = n.pace.allowance(n.slots, this.limits);
    if (hold === n.hold) return;
    n.hold = hold;
    this.refresh(n);
    this.want();
  }

  /**
   * Puts a job back in the queue, or fails it as LOST when its runs are used up. A task with a
   * speculative copy loses only the copy that `from` held: the other runs on. A lost run's
   * error, and the job's when it fails, is `LOST: <why>` (`LOST` when the node said no reason).
   */
  requeue(job: Job, wasRunning: boolean, from?: NodeEntry, why?: string): void {
    if (job.copy && from && this.dropCopy(job, from)) return;
    const n = job.node ? this.d.members.get(job.node) : undefined;
    if (n) this.letGo(job, n);
    // a placement that never started is no attempt: the next one takes its number
    if (job.state === 'assigned' && !wasRunning && job.attempt > 0) job.attempt--;
    const error = why ? `LOST: ${why}` : 'LOST';
    if (wasRunning) {
      job.lostRuns++;
      const { node, attempt, startedAt } = job;
      job.runs.push({ node, attempt, error, startedAt, finishedAt: Date.now() });
    }
    if (job.lostRuns >= job.spec.maxAttempts) {
      this.d.counters.bump('lost');
      this.d.fail(job, {
        id: job.id,
        state: 'failed',
        exitCode: null,
        output: '',
        error,
        node: job.node,
        attempt: job.attempt,
        startedAt: job.startedAt,
        finishedAt: Date.now(),
      });
      return;
    }
    job.state = 'queued';
    job.node = null;
    job.placed = false;
    job.startedAt = null;
    this.d.counters.bump('requeued');
    this.d.store.requeue(job);
    this.enqueue(job);
    this.want();
  }

  /** Every job `n` holds goes back to the queue (its node died or left). */
  requeueAll(n: NodeEntry): number {
    const jobs = [...n.jobs];
    const why = `its node ${n.id} left`;
    for (const job of jobs) this.requeue(job, job.state === 'running', n, why);
    return jobs.length;
  }

  /** `from` lost one of the two copies of `job`: the other one is the job's run now. */
  private dropCopy(job: Job, from: NodeEntry): boolean {
    if (from.id === job.copy) {
      this.letGo(job, from);
    } else if (from.id === job.node) {
      this.letGo(job, from);
      job.node = job.copy ?? null;
      job.placed = true;
      if (job.stored) this.d.store.assign(job);
    } else return false;
    job.copy = undefined;
    this.want();
    return true;
  }
}
