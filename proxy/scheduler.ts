import type { Committer } from '../shared/db.js';
import { type JobView } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import { type Frame, type FrameOf } from '../shared/protocol.js';
import { Assignments, type TenantLoad } from './assignments.js';
import { Cancels } from './cancels.js';
import { Counters, type CounterName } from './counters.js';
import { Holding } from './holding.js';
import { Intake } from './intake.js';
import type { JobRecord, JobStore } from './job-store.js';
import { JobTable, type JobFilter } from './job-table.js';
import { JobTasks } from './job-tasks.js';
import { LogRelay, type LogAsk } from './log-relay.js';
import { DEFAULT_DETECTOR } from './failure-detector.js';
import { routeFrame, type FrameRoutes } from './frame-router.js';
import { Membership, type NodeConn, type NodeEntry } from './membership.js';
import { NodeReports } from './node-reports.js';
import { NodeSessions } from './node-sessions.js';
import { OriginLookups } from './origin-lookups.js';
import { Outbox } from './outbox.js';
import { OPEN_CAPS, type NodeCaps } from './placement.js';
import type { Policy } from './policies.js';
import { recover } from './recovery.js';
import { Rerun } from './rerun.js';
import { Results } from './results.js';
import type { TypeStorage } from './type-store.js';
import { JobTypes } from './job-types.js';
import type { ScheduleStorage } from './schedule-store.js';
import { Schedules } from './schedules.js';
import { TicketViews } from './ticket-views.js';
import { UndeliveredResults } from './undelivered.js';

export type { NodeConn, NodeEntry } from './membership.js';

export interface SchedulerOptions {
  prefetch: number;
  /** 0: dispatch on every event; > 0: the seed's periodic batched dispatch. */
  dispatchPeriod: number;
  maxJobsPerDispatch: number;
  /** Failure detection's phi threshold (0: NODE_TIMEOUT only). */
  phiThreshold?: number;
  /** TENANT_WEIGHTS. */
  weights?: ReadonlyMap<string, number>;
  /** A proxy taking over a group waits this long for the nodes' holds before dispatching. */
  settleMs?: number;
  /** Tickets unknown here are asked of the nodes (a proxy that took over a group). */
  askOrigins?: boolean;
  /** RESULT_TTL: a ticket younger than it cannot have expired here (see `TicketViews`). */
  resultTtl?: number;
  log: Logger;
  /** Told when a job reaches its final state (the proxy's latency metrics). */
  onFinished?: (job: JobRecord) => void;
  /** The schedules' table (same database and commits as the jobs). */
  schedules: ScheduleStorage;
}

/**
 * The proxy's conductor: it routes each node's frames to the concept that owns them (intake,
 * assignments, results, membership) and keeps every promise: a job is placed only when its
 * node acked it, a result counts once (the first), and a dead node's jobs go back to the queue.
 */
export class Scheduler {
  private readonly members = new Membership();
  private readonly table: JobTable;
  private readonly outbox = new Outbox();
  private readonly lookups = new OriginLookups(1000);
  private readonly count: Counters;
  private readonly assignments: Assignments;
  private readonly results: Results;
  private readonly intake: Intake;
  private readonly schedules: Schedules;
  private readonly logs = new LogRelay((id) => this.members.get(id)?.conn);
  private readonly types: JobTypes;
  private readonly tasks: JobTasks;
  private readonly holding: Holding;
  private readonly rerun: Rerun;
  private readonly views: TicketViews;
  private readonly sessions: NodeSessions;
  private readonly reports: NodeReports;
  private readonly cancels: Cancels;
  private readonly undelivered: UndeliveredResults;
  private readonly routes: FrameRoutes;

  constructor(
    private readonly store: JobStore,
    private readonly committer: Committer,
    newPolicy: () => Policy,
    private readonly opts: SchedulerOptions,
    typeStore: TypeStorage,
  ) {
    const { members, outbox } = this;
    this.types = new JobTypes(typeStore, members, opts.log);
    members.phiThreshold = opts.phiThreshold ?? DEFAULT_DETECTOR.threshold;
    this.table = new JobTable(store);
    this.count = new Counters(store.counters());
    const counters = this.count;
    const table = this.table;
    this.assignments = new Assignments(newPolicy, opts, {
      store,
      members,
      outbox,
      counters,
      committer,
      fail: (job, r) => this.results.finish(job, r, false),
      mayQueue: (job) => this.tasks.mayQueue(job),
    });
    const assignments = this.assignments;
    this.holding = new Holding({
      table,
      ready: (job) => {
        // a job of many tasks is never dispatched itself: its tasks are, each a job of its own
        if (job.spec.tasks) this.tasks.accept(job);
        else assignments.enqueue(job);
        assignments.want();
      },
      doom: (job, error) => this.cancels.doom(job, error),
      log: opts.log,
    });
    const holding = this.holding;
    this.results = new Results({
      table,
      store,
      members,
      outbox,
      counters,
      committer,
      log: opts.log,
      release: (job, reporter) => {
        assignments.release(job, reporter);
        holding.remove(job);
        this.tasks.released(job);
      },
      reported: (n, job, r) => assignments.noteReported(n, job, r),
      hold: (job) => holding.admit(job),
      settled: (job) => holding.settled(job),
      finished: opts.onFinished,
      taskEnded: (task) => this.tasks.taskEnded(task),
      delivered: (job) => this.tasks.delivered(job),
      expired: (id) => this.undelivered.expiredHere(id),
    });
    const results = this.results;
    this.tasks = new JobTasks({
      table,
      store,
      assignments,
      members,
      counters,
      log: opts.log,
      finish: (job, r) => results.finish(job, r, false),
    });
    this.intake = new Intake({
      table,
      store,
      holding,
      results,
      members,
      outbox,
      counters,
      committer,
      startedHere: (job, n) => assignments.startedHere(job, n),
      isSchedule: (id) => this.schedules.has(id),
      finished: (job) => opts.onFinished?.(job),
      log: opts.log,
    });
    this.schedules = new Schedules({
      store: opts.schedules,
      issue: (job) => this.intake.issue(job),
      stateOf: (ticket) => this.table.view(ticket)?.state ?? null,
      ack: (origin, id) => this.toNode(origin, (n) => this.outbox.ack(n, 'job', id)),
      ended: (origin, r) => this.toNode(origin, (n) => this.outbox.result(n, JSON.stringify(r))),
      log: opts.log,
    });
    const { schedules, tasks } = this;
    this.rerun = new Rerun({ table, store, holding, members, committer, tasks, schedules });
    this.undelivered = new UndeliveredResults({
      rows: store.undelivered,
      table,
      dropTasks: (job) => this.tasks.delivered(job), // as on delivery; their rows are gone
      isSchedule: (id) => this.schedules.has(id),
      log: opts.log,
    });
    const { types, rerun, lookups, intake, log } = this;
    const { askOrigins, resultTtl } = opts;
    const views = new TicketViews({
      table,
      assignments,
      schedules,
      tasks,
      types,
      members,
      lookups,
      askOrigins,
      resultTtl,
    });
    this.views = views;
    const count = counters;
    this.sessions = new NodeSessions({
      table,
      assignments,
      intake,
      tasks,
      count,
      members,
      results,
      rerun,
      types,
      lookups,
      logs: this.logs,
      log,
    });
    this.reports = new NodeReports({ table, assignments, results, schedules, members, outbox });
    this.cancels = new Cancels({ table, results, schedules, tasks, views, committer });
    const { sessions, reports, cancels, logs } = this;
    const routes = { members, assignments, sessions, reports, intake, schedules, rerun, results };
    this.routes = { ...routes, lookups, views, cancels, logs };
    committer.beforeFlush = () => {
      // Dispatches go out now, not after this tick's fsync. Everything else in the outboxes
      // was queued by earlier commits (acks and results are queued only once committed), so
      // it may leave too.
      if (this.assignments.dispatchIfWanted()) this.outbox.flush();
      // counters change with the jobs they count, so they are committed with them: read last
      // in the transaction, as a write may count inside it (Intake's decided forwards)
      if (this.count.unsaved) this.store.saveCounters(this.count.saver());
    };
    committer.onFlushed = () => this.outbox.flush();
    this.recover();
    if (opts.settleMs) this.assignments.holdFor(opts.settleMs);
  }

  /** Queues a frame for a node, if connected, and sends it once what is queued is committed. */
  private toNode(id: string, queue: (n: NodeEntry) => unknown): void {
    const n = this.members.get(id);
    if (!n?.conn) return;
    queue(n);
    this.committer.afterCommit(() => this.outbox.flush());
  }

  private get log(): Logger {
    return this.opts.log;
  }

  /** Rebuilds the queue and assignments from SQLite after a start or crash. */
  private recover(): void {
    const { tasks, table, assignments, members, holding, log } = this;
    recover({ tasks, table, assignments, members, holding, log });
  }

  get nodes(): ReadonlyMap<string, NodeEntry> {
    return this.members.nodes;
  }
  /** Nodes known to exist (a group's, at takeover): away until they join. */
  expectNodes = (ids: readonly string[]): void => this.members.expect(ids);
  get counters(): Record<CounterName, number> {
    return this.count.values;
  }
  get queueLength(): number {
    return this.assignments.queueLength;
  }

  holdOf(n: NodeEntry): number {
    return this.assignments.holdOf(n);
  }

  tenants(): TenantLoad[] {
    return this.assignments.tenants();
  }
  get liveJobs(): number {
    return this.table.size;
  }
  /** Jobs whose result expired undelivered since this proxy started (see undelivered.ts). */
  get undeliveredExpired(): number {
    return this.undelivered.expired;
  }
  connectedNodes(): NodeEntry[] {
    return this.members.connected();
  }
  get connectedCount(): number {
    return this.members.connectedCount;
  }

  /** Reads a run's output from the node that ran it (the dashboard). */
  readLog(req: LogAsk): Promise<FrameOf<'LOG_DATA'>> {
    return this.logs.ask(req);
  }

  /** A client's view of any ticket the proxy knows. */
  view(id: string): JobView | null {
    return this.views.view(id);
  }

  /** Starts copies of straggling tasks of `speculate` jobs (called on a short timer). */
  speculate(now = Date.now()): number {
    if (!this.tasks.speculating) return 0;
    return this.tasks.speculate(now);
  }

  /** The custom types the cluster knows (stored), for WELCOME. */
  knownTypes(): string[] {
    return this.types.list();
  }

  /** The cluster's newest jobs, filtered (GET /api/jobs). */
  listJobs(f: JobFilter): JobView[] {
    return this.table.list(f);
  }

  /** RETRY from the proxy itself (the dashboard): the job's view once committed. */
  retry(ticket: string): Promise<JobView> {
    return this.rerun.retryOne(ticket);
  }

  // ---- membership ----------------------------------------------------------------------------

  /**
   * A node joined (or rejoined) and says what it holds. Returns the copies it must drop: those
   * given to someone else meanwhile, or already finished elsewhere.
   */
  join(
    nodeId: string,
    slots: number,
    holds: FrameOf<'HELLO'>['holds'],
    conn: NodeConn,
    workers: FrameOf<'HELLO'>['workers'] = [],
    caps: NodeCaps = OPEN_CAPS,
  ): string[] {
    return this.sessions.join(nodeId, slots, holds, conn, workers, caps);
  }

  /** The node's connection closed or went silent: its unfinished jobs go back to the queue. */
  leave(nodeId: string, conn: NodeConn, why: string): void {
    this.sessions.leave(nodeId, conn, why);
  }

  /** Declares nodes dead after `timeoutMs` of silence; returns their ids. */
  expireSilent(timeoutMs: number, now = Date.now()): string[] {
    return this.sessions.expireSilent(timeoutMs, now);
  }

  /** A node's heartbeat (its periodic ping) arrived. */
  heartbeat(nodeId: string): void {
    this.sessions.heartbeat(nodeId);
  }

  /** The connection of a node declared dead closed; `answered`: the node took part in the close. */
  verdictSettled(nodeId: string, answered: boolean): void {
    this.sessions.verdictSettled(nodeId, answered);
  }

  /** Verdicts on connected nodes, and those the nodes proved wrong. */
  get suspicions(): { suspicions: number; falseSuspicions: number } {
    return this.sessions.suspicions;
  }

  // ---- frames --------------------------------------------------------------------------------

  /** Handles one validated frame from a joined node. */
  handle(nodeId: string, frame: Frame): void {
    const n = this.members.get(nodeId);
    if (!n || !n.conn) return;
    this.members.heard(n);
    routeFrame(this.routes, n, frame);
  }

  // ---- periodic ------------------------------------------------------------------------------

  /** The seed's periodic mode: called every DISPATCH_PERIOD. */
  periodicDispatch(): void {
    this.assignments.periodicDispatch();
  }

  /**
   * The REQUEST_OF_RES sweep: asks each node for results of jobs placed on it, and resends
   * dispatches and results that went unacknowledged for a period (a lost frame).
   */
  sweep(periodMs: number, now = Date.now()): void {
    this.reports.sweep(periodMs, now);
  }

  /** Deletes results older than the TTL, delivered or not (a chunk of each, see ChunkedSweep). */
  expire(ttlMs: number, now = Date.now()): number {
    const before = now - ttlMs;
    const n = this.store.expire(before) + this.undelivered.expire(before);
    return n + this.schedules.expire(before);
  }

  /** Its term is over: the timers that would act for it (firings, due jobs, a pause) go. */
  halt(): void {
    this.schedules.close();
    this.intake.close();
    this.holding.close();
    this.assignments.close();
  }

  /** Commits everything and stops dispatching (graceful stop). */
  stop(): void {
    this.logs.close();
    this.halt();
    this.committer.beforeFlush = () => {};
    this.store.saveCounters(() => this.count.values);
    this.committer.flush();
  }
}
