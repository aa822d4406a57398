import type { Committer } from '../shared/db.js';
import { WireError } from '../shared/errors.js';
import { isTerminal } from '../shared/job.js';
import { type JobView } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import { MAX_BATCH, type Frame, type FrameOf } from '../shared/protocol.js';
import { Assignments, type TenantLoad } from './assignments.js';
import { Counters, type CounterName } from './counters.js';
import { Holding } from './holding.js';
import { Intake } from './intake.js';
import type { JobRecord, JobStore } from './job-store.js';
import { JobTable, toView, type Job, type JobFilter } from './job-table.js';
import { JobTasks } from './job-tasks.js';
import { LogRelay, type LogAsk } from './log-relay.js';
import { DEFAULT_DETECTOR } from './failure-detector.js';
import { Membership, type NodeConn, type NodeEntry } from './membership.js';
import { OriginLookups } from './origin-lookups.js';
import { Outbox } from './outbox.js';
import { OPEN_CAPS, type NodeCaps } from './placement.js';
import type { Policy } from './policies.js';
import { Rerun } from './rerun.js';
import { Results } from './results.js';
import type { TypeStore } from './type-store.js';
import { JobTypes } from './job-types.js';
import type { ScheduleStore } from './schedule-store.js';
import { Schedules } from './schedules.js';

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
  log: Logger;
  /** Told when a job reaches its final state (the proxy's latency metrics). */
  onFinished?: (job: JobRecord) => void;
  /** The schedules' table (same database and commits as the jobs). */
  schedules: ScheduleStore;
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

  constructor(
    private readonly store: JobStore,
    private readonly committer: Committer,
    newPolicy: () => Policy,
    private readonly opts: SchedulerOptions,
    typeStore: TypeStore,
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
      doom: (job, error) => this.doom(job, error),
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
      hold: (job) => holding.admit(job),
      settled: (job) => holding.settled(job),
      finished: opts.onFinished,
      taskEnded: (task) => this.tasks.taskEnded(task),
      delivered: (job) => this.tasks.delivered(job),
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
      log: opts.log,
    });
    this.schedules = new Schedules({
      store: opts.schedules,
      issue: (job) => this.intake.issue(job),
      stateOf: (ticket) => this.table.view(ticket)?.state ?? null,
      ack: (origin, id) => this.toNode(origin, (n) => this.outbox.ack(n, 'job', id)),
      ended: (origin, r) => this.toNode(origin, (n) => this.outbox.result(n, r)),
      log: opts.log,
    });
    this.rerun = new Rerun({ table, store, holding, members, committer, tasks: this.tasks });
    committer.beforeFlush = () => {
      // Dispatches go out now, not after this tick's fsync. Everything else in the outboxes
      // was queued by earlier commits (acks and results are queued only once committed), so
      // it may leave too.
      if (this.assignments.dispatchIfWanted()) this.outbox.flush();
      // counters change with the jobs they count, so they are committed with them
      const changed = this.count.takeChanged();
      if (changed) this.store.saveCounters(changed);
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
    const jobs = this.tasks.recover(this.table.recover());
    for (const job of jobs) {
      if (!isTerminal(job.state) && job.node) {
        this.assignments.recovered(job, this.members.entry(job.node));
      }
    }
    // held jobs are admitted once every live job is known, as they look their dependencies up
    for (const job of jobs) {
      if (job.state === 'queued' || job.state === 'scheduled' || job.state === 'blocked') {
        this.holding.admit(job);
      }
    }
    this.members.restartGrace();
    this.log.info(
      { queued: this.assignments.queueLength, live: this.table.size },
      'recovered state from the database',
    );
  }

  get nodes(): ReadonlyMap<string, NodeEntry> {
    return this.members.nodes;
  }
  get counters(): Record<CounterName, number> {
    return this.count.values;
  }
  get queueLength(): number {
    return this.assignments.queueLength;
  }
  tenants(): TenantLoad[] {
    return this.assignments.tenants();
  }
  get liveJobs(): number {
    return this.table.size;
  }
  connectedNodes(): NodeEntry[] {
    return this.members.connected();
  }

  /** Reads a run's output from the node that ran it (the dashboard). */
  readLog(req: LogAsk): Promise<FrameOf<'LOG_DATA'>> {
    return this.logs.ask(req);
  }

  /** A client's view of any ticket the proxy knows. */
  view(id: string): JobView | null {
    const scheduled = this.schedules.view(id);
    if (scheduled) return this.types.explain(scheduled);
    const job = this.table.find(id);
    if (!job) return null;
    const v = toView(job);
    const waiting = this.assignments.waiting(job);
    if (waiting) v.waiting = waiting;
    const labels = job.spec.constraints?.labels;
    return this.types.explain(this.tasks.view(id, v) ?? v, labels, this.assignments.nodeLabels);
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

  /** A node said which custom types its workers serve. */
  private noteWorkers(n: NodeEntry, workers: FrameOf<'HELLO'>['workers']): void {
    this.types.note(n, workers);
    this.assignments.want();
  }

  /** The cluster's newest jobs, filtered (GET /api/jobs). */
  listJobs(f: JobFilter): JobView[] {
    return this.table.list(f);
  }

  /** RETRY from the proxy itself (the dashboard): the job's view once committed. */
  retry(ticket: string): Promise<JobView> {
    return new Promise((resolve, reject) =>
      this.rerun.retry([ticket], (views, error) => {
        const v = views[0];
        if (v) resolve(v);
        else reject(new WireError(error?.code ?? 'NOT_FOUND', error?.message));
      }),
    );
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
    const n = this.members.attach(nodeId, slots, conn);
    this.noteWorkers(n, workers);
    this.assignments.setCaps(n, caps);
    const drop = this.reconcile(n, holds);
    n.outstanding = n.jobs.size - n.typedJobs;
    this.assignments.refresh(n);
    // unsent dispatches and undelivered results go (again) now
    for (const job of n.jobs) if (!job.placed) this.assignments.send(job, n);
    this.results.pushTo(nodeId);
    this.rerun.rejoined(nodeId);
    this.assignments.want();
    this.log.info({ node: nodeId, slots, holds: holds.length, drop: drop.length }, 'node joined');
    return drop;
  }

  /** Matches what a joining node holds against what the proxy believes; returns its drops. */
  private reconcile(n: NodeEntry, holds: FrameOf<'HELLO'>['holds']): string[] {
    const drop: string[] = [];
    const held = new Set<string>();
    for (const h of holds) {
      held.add(h.id);
      const job = this.table.get(h.id);
      if (job && !isTerminal(job.state) && job.node === n.id) {
        job.placed = true;
        if (h.state === 'running') job.state = 'running';
        continue;
      }
      if (job && job.state === 'queued' && h.state !== 'finished' && this.tasks.mayQueue(job)) {
        // its copy is still waiting here and nobody else has it: give it back to this node
        // (a task beyond its job's concurrency is dropped instead, and runs in its turn)
        this.assignments.unqueue(job);
        this.assignments.assign(job, n);
        job.placed = true;
        continue;
      }
      if (h.state === 'finished' && job && !isTerminal(job.state)) {
        // its result wins; a queued job forwarded again to a new leader was given to nobody yet
        if (!job.given.includes(n.id)) job.given.push(n.id);
        continue;
      }
      if (!job && !this.table.find(h.id) && this.intake.adopt(n, h)) continue;
      if (h.state === 'finished') {
        // A finished copy of a job already decided is a second run, unless the recorded result
        // is this very copy (the node died before it heard the proxy's ACK).
        const rec = job ?? this.table.find(h.id);
        const same = rec?.result?.node === n.id && rec.result.attempt === h.attempt;
        if (rec && !same && rec.state !== 'cancelled') this.count.bump('duplicates');
      }
      drop.push(h.id);
    }
    // jobs the proxy believes are on this node but that it no longer holds go back to the queue
    for (const job of [...n.jobs]) {
      if (!held.has(job.id) && job.placed) this.assignments.requeue(job, false);
    }
    return drop;
  }

  /** The node's connection closed or went silent: its unfinished jobs go back to the queue. */
  leave(nodeId: string, conn: NodeConn, why: string): void {
    const n = this.members.detach(nodeId, conn);
    if (!n) return;
    this.lookups.gone(nodeId);
    this.assignments.refresh(n);
    const requeued = this.assignments.requeueAll(n);
    this.log.warn({ node: nodeId, why, requeued }, 'node left');
    this.assignments.want();
  }

  /** Declares nodes dead after `timeoutMs` of silence; returns their ids. */
  expireSilent(timeoutMs: number, now = Date.now()): string[] {
    const { silent, absent } = this.members.findDead(timeoutMs, now);
    for (const n of absent) {
      const requeued = this.assignments.requeueAll(n);
      this.log.warn({ node: n.id, requeued }, 'node did not return');
    }
    for (const n of silent) {
      const conn = n.conn as NodeConn;
      this.leave(n.id, conn, `declared dead after ${now - n.lastSeen} ms of silence`);
      // a node that answers the close in time was alive: the ledger counts it as a mistake
      conn.close(4008, 'declared dead after a silence', this.members.graceLeft(n, now));
    }
    return [...absent, ...silent].map((n) => n.id);
  }

  /** A node's heartbeat (its periodic ping) arrived. */
  heartbeat(nodeId: string): void {
    const n = this.members.get(nodeId);
    if (n?.conn) this.members.heartbeat(n);
  }

  /** The connection of a node declared dead closed; `answered`: the node took part in the close. */
  verdictSettled(nodeId: string, answered: boolean): void {
    if (this.members.suspicions.settle(nodeId, answered, Date.now())) {
      this.log.warn({ node: nodeId }, 'a node declared dead answered in time: a false suspicion');
    } else {
      this.log.info({ node: nodeId, answered }, 'a node declared dead was cut off');
    }
  }

  /** Verdicts on connected nodes, and those the nodes proved wrong. */
  get suspicions(): { suspicions: number; falseSuspicions: number } {
    const { suspicions, falseSuspicions } = this.members.suspicions;
    return { suspicions, falseSuspicions };
  }

  // ---- frames --------------------------------------------------------------------------------

  /** Handles one validated frame from a joined node. */
  handle(nodeId: string, frame: Frame): void {
    const n = this.members.get(nodeId);
    if (!n || !n.conn) return;
    this.members.heard(n);
    switch (frame.type) {
      case 'INFO':
        if (this.members.noteInfo(n, frame)) this.assignments.refresh(n);
        if (frame.workers) this.noteWorkers(n, frame.workers);
        for (const s of frame.started) this.onStarted(n, s.id, s.at);
        return;
      case 'JOB':
        return this.intake.onForwarded(n, this.schedules.take(n.id, frame.jobs));
      case 'ACK':
        this.onPlaced(n, frame.jobs);
        this.rerun.onReopened(frame.reopened);
        return this.results.onDelivered(n, frame.results);
      case 'RESULT':
        this.assignments.noteRuns(n, frame.results);
        return this.results.onResults(n, frame.results);
      case 'RES_REQ':
        // an origin's answer to a lookup this proxy asked for
        if (frame.reqId !== undefined) return this.lookups.answered(n.id, frame.reqId, frame.views);
        return this.onResReq(n, frame);
      case 'REQUEST_OF_RES':
        return this.answerViews(n, frame.ids, frame.reqId);
      case 'CANCEL':
        return this.onCancel(n, frame.ids, frame.reqId);
      case 'LOG_READ':
        return this.logs.read(nodeId, frame);
      case 'LOG_DATA':
        return this.logs.data(nodeId, frame);
      case 'CLAIM':
        return this.intake.onClaim(n, frame.reqId, frame.job);
      case 'RETRY':
        return this.rerun.onRetry(n, frame.reqId, frame.ids);
      default:
        n.conn.close(1008, `${frame.type} is not a node's frame`);
    }
  }

  private answerViews(n: NodeEntry, ids: string[], reqId: number | undefined): void {
    const views = ids.map((id) => this.view(id)).filter((v): v is JobView => v !== null);
    const reply = (found: JobView[]) => n.conn?.send({ type: 'RES_REQ', reqId, views: found });
    if (!this.opts.askOrigins || reqId === undefined || views.length === ids.length) {
      return void reply(views);
    }
    const known = new Set(views.map((v) => v.ticket));
    const unknown = ids.filter((id) => !known.has(id));
    const others = this.members.connected().filter((x) => x !== n);
    this.lookups.ask(
      others.map((x) => x.id),
      (node, id) =>
        this.members.get(node)?.conn?.send({ type: 'REQUEST_OF_RES', ids: unknown, reqId: id }),
      (found) => reply([...views, ...found]),
    );
  }

  /** The node acked these dispatches. */
  private onPlaced(n: NodeEntry, ids: string[]): void {
    for (const id of ids) {
      const job = this.table.get(id);
      // placement and start are kept in memory only: after a proxy restart, each node's HELLO
      // says again what it holds and runs
      if (job && job.node === n.id && !isTerminal(job.state)) {
        this.assignments.notePlaced(n, job);
        job.placed = true;
      }
    }
  }

  private onStarted(n: NodeEntry, id: string, at: number): void {
    const job = this.table.get(id);
    if (job && job.node === n.id && (job.state === 'assigned' || job.state === 'queued')) {
      job.state = 'running';
      job.startedAt = at;
    }
  }

  private onResReq(n: NodeEntry, f: FrameOf<'RES_REQ'>): void {
    if (f.results.length) this.results.onResults(n, f.results);
    for (const id of f.missing) {
      const job = this.table.get(id);
      if (job && job.node === n.id && !isTerminal(job.state)) this.assignments.requeue(job, false);
    }
    // runs lost on the node (a worker left or went silent) count against maxAttempts
    for (const id of f.lost) {
      const job = this.table.get(id);
      if (job && job.node === n.id && !isTerminal(job.state)) this.assignments.requeue(job, true);
    }
    this.results.onRequested(n, f.requests);
    this.schedules.requested(n.id, f.requests);
    this.assignments.want();
  }

  private onCancel(n: NodeEntry, ids: string[], reqId: number | undefined): void {
    for (const id of ids) {
      if (this.schedules.cancel(id)) continue;
      if (this.tasks.cancel(id)) continue;
      const job = this.table.get(id);
      if (job && !isTerminal(job.state)) this.end(job, 'cancelled by a client');
    }
    if (reqId !== undefined) this.committer.afterCommit(() => this.answerViews(n, ids, reqId));
  }

  /** A job that can never run: a job it waits for failed or was cancelled. */
  private doom(job: Job, error: string): void {
    this.end(job, error);
  }

  /** Ends a job that has not finished as cancelled, with `error` saying why. */
  private end(job: Job, error: string): void {
    this.results.finish(
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
    for (const n of this.members.nodes.values()) {
      if (!n.conn) continue;
      const ids: string[] = [];
      for (const job of n.jobs) {
        if (job.placed) ids.push(job.id);
        else if (now - job.sentAt >= periodMs) this.assignments.send(job, n);
      }
      if (ids.length) n.conn.send({ type: 'REQUEST_OF_RES', ids: ids.slice(0, MAX_BATCH) });
      n.conn.out.flush();
    }
    this.results.resendDue(periodMs, now);
    this.outbox.flush();
  }

  /** Deletes delivered results older than the TTL. */
  expire(ttlMs: number, now = Date.now()): number {
    return this.store.expire(now - ttlMs) + this.schedules.expire(now - ttlMs);
  }

  /** Commits everything and stops dispatching (graceful stop). */
  stop(): void {
    this.logs.close();
    this.schedules.close();
    this.holding.close();
    this.committer.beforeFlush = () => {};
    this.store.saveCounters(this.count.values);
    this.committer.flush();
  }
}
