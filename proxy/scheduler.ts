import type { Committer } from '../shared/db.js';
import { type JobView } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import { type Frame, type FrameOf } from '../shared/protocol.js';
import { type TenantLoad } from './assignments.js';
import { type CounterName } from './counters.js';
import type { JobStore } from './job-store.js';
import { type JobFilter, type JobPage } from './job-table.js';
import { type LogAsk } from './log-relay.js';
import { routeFrame } from './frame-router.js';
import { type NodeConn, type NodeEntry } from './membership.js';
import { OPEN_CAPS, type NodeCaps } from './placement.js';
import type { Policy } from './policies.js';
import { recover } from './recovery.js';
import { assembleParts, type SchedulerOptions, type SchedulerParts } from './scheduler-parts.js';
import type { TypeStorage } from './type-store.js';

export type { NodeConn, NodeEntry } from './membership.js';
export type { SchedulerOptions } from './scheduler-parts.js';

/**
 * The proxy's conductor: it routes each node's frames to the concept that owns them (intake,
 * assignments, results, membership) and keeps every promise: a job is placed only when its
 * node acked it, a result counts once (the first), and a dead node's jobs go back to the queue.
 */
export class Scheduler {
  private readonly p: SchedulerParts;

  constructor(
    private readonly store: JobStore,
    private readonly committer: Committer,
    newPolicy: () => Policy,
    private readonly opts: SchedulerOptions,
    typeStore: TypeStorage,
  ) {
    this.p = assembleParts(store, committer, newPolicy, opts, typeStore);
    committer.beforeFlush = () => {
      // Dispatches go out now, not after this tick's fsync. Everything else in the outboxes
      // was queued by earlier commits (acks and results are queued only once committed), so
      // it may leave too.
      if (this.p.assignments.dispatchIfWanted()) this.p.outbox.flush();
      // counters change with the jobs they count, so they are committed with them: read last
      // in the transaction, as a write may count inside it (Intake's decided forwards)
      if (this.p.counters.unsaved) this.store.saveCounters(this.p.counters.saver());
    };
    committer.onFlushed = () => this.p.outbox.flush();
    this.recover();
    if (opts.settleMs) this.p.assignments.holdFor(opts.settleMs);
  }

  private get log(): Logger {
    return this.opts.log;
  }

  /** Rebuilds the queue and assignments from SQLite after a start or crash. */
  private recover(): void {
    const { tasks, table, assignments, members, holding } = this.p;
    recover({ tasks, table, assignments, members, holding, log: this.log });
  }

  get nodes(): ReadonlyMap<string, NodeEntry> {
    return this.p.members.nodes;
  }
  /** Nodes known to exist (a group's, at takeover): away until they join. */
  expectNodes = (ids: readonly string[]): void => this.p.members.expect(ids);
  get counters(): Record<CounterName, number> {
    return this.p.counters.values;
  }
  get queueLength(): number {
    return this.p.assignments.queueLength;
  }

  holdOf(n: NodeEntry): number {
    return this.p.assignments.holdOf(n);
  }

  tenants(): TenantLoad[] {
    return this.p.assignments.tenants();
  }
  get liveJobs(): number {
    return this.p.table.size;
  }
  /** Jobs whose result expired undelivered since this proxy started (see undelivered.ts). */
  get undeliveredExpired(): number {
    return this.p.undelivered.expired;
  }
  connectedNodes(): NodeEntry[] {
    return this.p.members.connected();
  }
  get connectedCount(): number {
    return this.p.members.connectedCount;
  }

  /** Reads a run's output from the node that ran it (the dashboard). */
  readLog(req: LogAsk): Promise<FrameOf<'LOG_DATA'>> {
    return this.p.logs.ask(req);
  }

  /** A client's view of any ticket the proxy knows. */
  view(id: string): JobView | null {
    return this.p.views.view(id);
  }

  /** Starts copies of straggling tasks of `speculate` jobs (called on a short timer). */
  speculate(now = Date.now()): number {
    if (!this.p.tasks.speculating) return 0;
    return this.p.tasks.speculate(now);
  }

  /** The custom types the cluster knows (stored), for WELCOME. */
  knownTypes(): string[] {
    return this.p.types.list();
  }

  /** The cluster's newest jobs, filtered (GET /api/jobs). */
  listJobs(f: JobFilter): JobPage {
    return this.p.table.list(f);
  }

  /** Active schedules, and firings made and skipped since this proxy began to lead. */
  get scheduleCounts(): { active: number; fired: number; skipped: number } {
    return this.p.schedules.counts;
  }

  /** The active schedules, the soonest to fire first (GET /api/schedules). */
  listSchedules(limit: number, runs?: number): { schedules: JobView[]; total: number } {
    return this.p.schedules.list(limit, runs);
  }

  /** RETRY from the proxy itself (the dashboard): the job's view once committed. */
  retry(ticket: string): Promise<JobView> {
    return this.p.rerun.retryOne(ticket);
  }

  /** CANCEL from the proxy itself (the dashboard): the job's view once committed, or null. */
  cancel(ticket: string): Promise<JobView | null> {
    return this.p.cancels.cancelOne(ticket);
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
    return this.p.sessions.join(nodeId, slots, holds, conn, workers, caps);
  }

  /** The node's connection closed or went silent: its unfinished jobs go back to the queue. */
  leave(nodeId: string, conn: NodeConn, why: string): void {
    this.p.sessions.leave(nodeId, conn, why);
  }

  /** Declares nodes dead after `timeoutMs` of silence; returns their ids. */
  expireSilent(timeoutMs: number, now = Date.now()): string[] {
    return this.p.sessions.expireSilent(timeoutMs, now);
  }

  /** A node's heartbeat (its periodic ping) arrived. */
  heartbeat(nodeId: string, conn?: NodeConn): void {
    this.p.sessions.heartbeat(nodeId, conn);
  }

  /** The connection of a node declared dead closed; `answered`: the node took part in the close. */
  verdictSettled(nodeId: string, answered: boolean): void {
    this.p.sessions.verdictSettled(nodeId, answered);
  }

  /** Verdicts on connected nodes, and those the nodes proved wrong. */
  get suspicions(): { suspicions: number; falseSuspicions: number } {
    return this.p.sessions.suspicions;
  }

  // ---- frames --------------------------------------------------------------------------------

  /** Handles one validated frame from a joined node. */
  /**
   * A frame from `nodeId`'s connection `conn`. A connection the node has since replaced (it was
   * declared dead and came back while the old one still closed) speaks for nobody: what it
   * still carries belongs to the session that ended.
   */
  handle(nodeId: string, frame: Frame, conn?: NodeConn): void {
    const n = this.p.members.get(nodeId);
    if (!n || !n.conn || (conn !== undefined && n.conn !== conn)) return;
    this.p.members.heard(n);
    routeFrame(this.p.routes, n, frame);
  }

  // ---- periodic ------------------------------------------------------------------------------

  /** The seed's periodic mode: called every DISPATCH_PERIOD. */
  periodicDispatch(): void {
    this.p.assignments.periodicDispatch();
  }

  /**
   * The REQUEST_OF_RES sweep: asks each node for results of jobs placed on it, and resends
   * dispatches and results that went unacknowledged for a period (a lost frame).
   */
  sweep(periodMs: number, now = Date.now()): void {
    this.p.reports.sweep(periodMs, now);
  }

  /** Deletes results older than the TTL, delivered or not (a chunk of each, see ChunkedSweep). */
  expire(ttlMs: number, now = Date.now()): number {
    const before = now - ttlMs;
    const n = this.store.expire(before) + this.p.undelivered.expire(before);
    return n + this.p.schedules.expire(before);
  }

  /** Its term is over: the timers that would act for it (firings, due jobs, a pause) go. */
  halt(): void {
    this.p.schedules.close();
    this.p.intake.close();
    this.p.holding.close();
    this.p.assignments.close();
  }

  /** Commits everything and stops dispatching (graceful stop). */
  stop(): void {
    this.p.logs.close();
    this.halt();
    this.committer.beforeFlush = () => {};
    this.store.saveCounters(() => this.p.counters.values);
    this.committer.flush();
  }
}
