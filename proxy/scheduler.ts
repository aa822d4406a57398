import type { Committer } from '../shared/db.js';
import type { FrameBatcher } from '../shared/batcher.js';
import { isTerminal, type JobResult, type JobView } from '../shared/job.js';
import type { Logger } from '../shared/log.js';
import type { HeapItem } from '../shared/heap.js';
import { ticketTime } from '../shared/ids.js';
import {
  MAX_BATCH,
  type Frame,
  type FrameIn,
  type FrameOf,
  type WireJob,
} from '../shared/protocol.js';
import type { JobRecord, JobStore } from './job-store.js';
import { Dispatcher } from './dispatcher.js';
import type { Candidate, Policy } from './policies.js';

/** What the scheduler needs of a node's connection. */
export interface NodeConn {
  readonly out: FrameBatcher;
  send(frame: FrameIn): void;
  close(code: number, reason: string): void;
}

interface Job extends JobRecord, HeapItem {
  /** Whether its row exists (or is written by a statement already queued). */
  stored?: boolean;
  /** When the current dispatch or result push was last sent, for resends. */
  sentAt: number;
}

export interface NodeEntry extends Candidate {
  slots: number;
  conn: NodeConn | undefined;
  /** Jobs given to this node and not finished. */
  jobs: Set<Job>;
  queued: number;
  running: number;
  free: number;
  lastSeen: number;
  done: number;
  available: boolean;
  /** The node is stopping: it finishes what it runs and takes nothing new. */
  draining: boolean;
}

export interface SchedulerOptions {
  prefetch: number;
  /** 0: dispatch on every event; > 0: the seed's periodic batched dispatch. */
  dispatchPeriod: number;
  maxJobsPerDispatch: number;
  log: Logger;
}

/** A node away this long, holding nothing, is forgotten (it would join again as new). */
const FORGET_NODE_MS = 10 * 60 * 1000;

const COUNTER_NAMES = [
  'submitted',
  'done',
  'failed',
  'cancelled',
  'lost',
  'duplicates',
  'requeued',
  'rejected',
] as const;
type CounterName = (typeof COUNTER_NAMES)[number];

/**
 * The proxy's brain: the global queue (priority, then arrival), assignments, node membership,
 * and the rules that keep every promise: a job is placed only when its node acked it, a result
 * counts once (the first), and a dead node's jobs go back to the queue.
 */
export class Scheduler {
  private readonly jobs = new Map<string, Job>();
  private readonly dispatcher: Dispatcher<Job, NodeEntry>;
  readonly nodes = new Map<string, NodeEntry>();
  private seq: number;
  private dispatchWanted = false;
  private periodicBudget = 0;
  readonly counters: Record<CounterName, number>;
  private readonly dirtyNodes = new Set<NodeEntry>();

  constructor(
    private readonly store: JobStore,
    private readonly committer: Committer,
    policy: Policy,
    private readonly opts: SchedulerOptions,
  ) {
    this.dispatcher = new Dispatcher<Job, NodeEntry>(policy, {
      prefetch: opts.prefetch,
      periodic: opts.dispatchPeriod > 0,
    });
    this.seq = store.maxSeq();
    const saved = store.counters();
    this.counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, saved[n] ?? 0])) as Record<
      CounterName,
      number
    >;
    committer.beforeFlush = () => {
      if (this.dispatchWanted) {
        this.dispatch();
        // Dispatches go out now, not after this tick's fsync. Everything else in the
        // outboxes was queued by earlier commits (acks and results are queued only once
        // committed), so it may leave too.
        for (const n of this.dirtyNodes) n.conn?.out.flush();
        this.dirtyNodes.clear();
      }
      // counters change with the jobs they count, so they are committed with them
      if (this.countersDirty) {
        this.countersDirty = false;
        this.store.saveCounters(this.counters);
      }
    };
    committer.onFlushed = () => {
      for (const n of this.dirtyNodes) n.conn?.out.flush();
      this.dirtyNodes.clear();
    };
    this.recover();
  }

  /** Rebuilds the queue and assignments from SQLite after a start or crash. */
  private recover(): void {
    for (const rec of this.store.live()) {
      const job: Job = { ...rec, heapIndex: -1, sentAt: 0, stored: true };
      this.jobs.set(job.id, job);
      if (job.state === 'queued') this.dispatcher.enqueue(job);
      else if (!isTerminal(job.state) && job.node) this.entry(job.node).jobs.add(job);
    }
    const now = Date.now();
    for (const n of this.nodes.values()) {
      n.outstanding = n.jobs.size;
      n.lastSeen = now; // the grace period for its return starts now
    }
    this.opts.log.info(
      { queued: this.dispatcher.size, live: this.jobs.size },
      'recovered state from the database',
    );
  }

  private entry(id: string): NodeEntry {
    let n = this.nodes.get(id);
    if (!n) {
      n = {
        id,
        slots: 1,
        conn: undefined,
        jobs: new Set(),
        outstanding: 0,
        queued: 0,
        running: 0,
        free: 0,
        lastSeen: 0,
        done: 0,
        available: false,
        draining: false,
        heapIndex: -1,
        poolIndex: -1,
        lastPick: 0,
      };
      this.nodes.set(id, n);
    }
    return n;
  }

  get queueLength(): number {
    return this.dispatcher.size;
  }
  get liveJobs(): number {
    return this.jobs.size;
  }
  connectedNodes(): NodeEntry[] {
    return [...this.nodes.values()].filter((n) => n.conn);
  }

  private bump(name: CounterName, by = 1): void {
    this.counters[name] += by;
    this.countersDirty = true;
  }
  private countersDirty = false;
  private lastExpiryCheck = Date.now();
  private readonly startedAt = Date.now();

  // ---- membership ----------------------------------------------------------------------------

  /**
   * A node joined (or rejoined) and says what it holds. Returns the copies it must drop: those
   * given to someone else meanwhile, or already finished elsewhere.
   */
  join(nodeId: string, slots: number, holds: FrameOf<'HELLO'>['holds'], conn: NodeConn): string[] {
    const n = this.entry(nodeId);
    if (n.conn && n.conn !== conn) n.conn.close(4000, 'replaced by a newer connection');
    n.conn = conn;
    n.slots = slots;
    n.lastSeen = Date.now();
    n.draining = false;
    const drop: string[] = [];
    const held = new Set<string>();
    for (const h of holds) {
      held.add(h.id);
      const job = this.jobs.get(h.id);
      if (job && !isTerminal(job.state) && job.node === nodeId) {
        job.placed = true;
        if (h.state === 'running') job.state = 'running';
        continue;
      }
      if (job && job.state === 'queued' && h.state !== 'finished') {
        // its copy is still waiting here and nobody else has it: give it back to this node
        this.dispatcher.remove(job);
        this.assign(job, n);
        job.placed = true;
        continue;
      }
      if (h.state === 'finished' && job && !isTerminal(job.state)) continue; // its result wins
      if (h.state === 'finished') {
        // A finished copy of a job already decided is a second run, unless the recorded result
        // is this very copy (the node died before it heard the proxy's ACK).
        const rec = job ?? this.store.get(h.id);
        const same = rec?.result?.node === nodeId && rec.result.attempt === h.attempt;
        if (rec && !same && rec.state !== 'cancelled') this.bump('duplicates');
      }
      drop.push(h.id);
    }
    // jobs the proxy believes are on this node but that it no longer holds go back to the queue
    for (const job of [...n.jobs]) if (!held.has(job.id) && job.placed) this.requeue(job, false);
    n.outstanding = n.jobs.size;
    this.refreshAvailability(n);
    // unsent dispatches and undelivered results go (again) now
    for (const job of n.jobs) if (!job.placed) this.sendDispatch(job, n);
    this.pushResultsTo(nodeId);
    this.wantDispatch();
    this.opts.log.info(
      { node: nodeId, slots, holds: holds.length, drop: drop.length },
      'node joined',
    );
    return drop;
  }

  /** The node's connection closed or went silent: its unfinished jobs go back to the queue. */
  leave(nodeId: string, conn: NodeConn, why: string): void {
    const n = this.nodes.get(nodeId);
    if (!n || n.conn !== conn) return;
    n.conn = undefined;
    this.refreshAvailability(n);
    const jobs = [...n.jobs];
    for (const job of jobs) this.requeue(job, job.state === 'running');
    this.opts.log.warn({ node: nodeId, why, requeued: jobs.length }, 'node left');
    this.wantDispatch();
  }

  /** Declares nodes dead after `timeoutMs` of silence; returns their ids. */
  expireSilent(timeoutMs: number, now = Date.now()): string[] {
    const dead: string[] = [];
    // When this process itself stalled (a long commit, a burst of frames), the nodes' frames
    // may be waiting unread in its sockets: silence is only counted while it was listening.
    const gap = now - this.lastExpiryCheck;
    this.lastExpiryCheck = now;
    if (gap > timeoutMs / 2) {
      for (const n of this.nodes.values()) n.lastSeen = Math.max(n.lastSeen, now - timeoutMs / 2);
    }
    for (const n of this.nodes.values()) {
      if (!n.conn && n.jobs.size === 0 && now - n.lastSeen > FORGET_NODE_MS) {
        this.nodes.delete(n.id); // gone for long with nothing of ours: it rejoins as new
        continue;
      }
      if (!n.conn && n.jobs.size > 0 && now - n.lastSeen > timeoutMs) {
        // held jobs when the proxy restarted, and has not come back since
        const jobs = [...n.jobs];
        for (const job of jobs) this.requeue(job, job.state === 'running');
        this.opts.log.warn({ node: n.id, requeued: jobs.length }, 'node did not return');
        dead.push(n.id);
        continue;
      }
      if (n.conn && now - n.lastSeen > timeoutMs) {
        const conn = n.conn;
        this.leave(n.id, conn, `silent for ${now - n.lastSeen} ms`);
        conn.close(4008, 'declared dead after NODE_TIMEOUT of silence');
        dead.push(n.id);
      }
    }
    return dead;
  }

  // ---- frames --------------------------------------------------------------------------------

  /** Handles one validated frame from a joined node. */
  handle(nodeId: string, frame: Frame): void {
    const n = this.nodes.get(nodeId);
    if (!n || !n.conn) return;
    n.lastSeen = Date.now();
    switch (frame.type) {
      case 'INFO':
        n.queued = frame.queued;
        n.running = frame.running;
        n.free = frame.free;
        if (frame.draining && !n.draining) {
          n.draining = true;
          this.refreshAvailability(n);
        }
        for (const s of frame.started) this.onStarted(n, s.id, s.at);
        return;
      case 'JOB':
        return this.onForwarded(n, frame.jobs);
      case 'ACK':
        return this.onAck(n, frame.jobs, frame.results);
      case 'RESULT':
        return this.onResults(n, frame.results);
      case 'RES_REQ':
        return this.onResReq(n, frame);
      case 'REQUEST_OF_RES':
        n.conn.send({
          type: 'RES_REQ',
          reqId: frame.reqId,
          views: frame.ids.map((id) => this.view(id)).filter((v): v is JobView => v !== null),
        });
        return;
      case 'CANCEL':
        return this.onCancel(n, frame.ids, frame.reqId);
      default:
        n.conn.close(1008, `${frame.type} is not a node's frame`);
    }
  }

  private onForwarded(n: NodeEntry, jobs: WireJob[]): void {
    for (const j of jobs) {
      if (j.origin !== n.id) {
        this.bump('rejected');
        this.opts.log.warn({ node: n.id, origin: j.origin }, 'a node forwarded another node’s job');
        continue;
      }
      // Only a job already delivered is in the database but not in memory, and its origin has
      // its result, so it forwards it again only with that result, or after this proxy's
      // restart: the common case needs no read.
      const existing =
        this.jobs.get(j.id) ??
        (j.result || ticketTime(j.id) < this.startedAt ? this.store.get(j.id) : undefined);
      if (existing) {
        if (existing.origin !== n.id) {
          // another node's ticket: a node may speak only for the tickets it issued
          this.bump('rejected');
          this.opts.log.warn({ node: n.id, job: j.id }, 'a node forwarded a job it did not issue');
          continue;
        }
        if (j.result) this.originDecided(existing as Job, j.result);
        this.committer.afterCommit(() => this.ack(n, 'job', j.id));
        continue;
      }
      const job: Job = {
        id: j.id,
        spec: j.spec,
        origin: j.origin,
        submittedAt: j.submittedAt,
        seq: ++this.seq,
        state: j.result ? j.result.state : 'queued',
        node: j.result?.node ?? null,
        attempt: j.result ? 1 : 0,
        lostRuns: 0,
        placed: false,
        given: [],
        startedAt: j.result?.startedAt ?? null,
        result: j.result ?? null,
        delivered: Boolean(j.result),
        heapIndex: -1,
        sentAt: 0,
      };
      this.bump('submitted');
      if (j.result) this.bump(j.result.state);
      else {
        this.jobs.set(job.id, job);
        this.dispatcher.enqueue(job);
        this.wantDispatch();
      }
      this.store.insert(job, (err) => {
        if (!err) this.ack(n, 'job', job.id);
      });
    }
  }

  /** The origin ran (or cancelled) a job itself while the proxy was away. */
  private originDecided(job: Job, r: JobResult): void {
    const live = this.jobs.get(job.id);
    if (!live || isTerminal(live.state)) {
      // both ran it (the proxy had it, but its ACK was lost while the origin fell back): the
      // origin already answered its clients, so its result is the one every node must give
      const rec = (live ?? job) as Job;
      if (r.state !== 'cancelled') this.bump('duplicates');
      if (rec.result?.finishedAt !== r.finishedAt || rec.result?.node !== r.node) {
        rec.result = r;
        rec.state = r.state;
        rec.node = r.node;
        rec.delivered = true;
        this.store.finish(rec);
      }
      this.jobs.delete(job.id);
      return;
    }
    this.finishJob(live, r, true);
  }

  private onAck(n: NodeEntry, jobs: string[], results: string[]): void {
    for (const id of jobs) {
      const job = this.jobs.get(id);
      // placement and start are kept in memory only: after a proxy restart, each node's HELLO
      // says again what it holds and runs
      if (job && job.node === n.id && !isTerminal(job.state)) job.placed = true;
    }
    const delivered: string[] = [];
    for (const id of results) {
      const job = this.jobs.get(id);
      if (job && job.origin === n.id && isTerminal(job.state) && !job.delivered) {
        job.delivered = true;
        this.jobs.delete(id);
        delivered.push(id);
      }
    }
    if (delivered.length) this.store.delivered(delivered);
  }

  private onStarted(n: NodeEntry, id: string, at: number): void {
    const job = this.jobs.get(id);
    if (job && job.node === n.id && (job.state === 'assigned' || job.state === 'queued')) {
      job.state = 'running';
      job.startedAt = at;
    }
  }

  private onResults(n: NodeEntry, results: JobResult[]): void {
    for (const r of results) {
      const job = this.jobs.get(r.id) ?? (this.store.get(r.id) as Job | undefined);
      if (!job || !job.given.includes(n.id)) {
        // never given to this node: recorded nowhere; the ack only stops it being resent
        this.bump('rejected');
        this.opts.log.warn({ node: n.id, job: r.id }, 'result for a job this node was not given');
        this.ack(n, 'result', r.id);
        continue;
      }
      if (isTerminal(job.state)) {
        const resent = job.result?.node === n.id && job.result.attempt === r.attempt;
        // a resend of the recorded result (its ACK was lost) is not a second run; neither is
        // the report of a copy stopped by a client's cancel
        if (!resent && !(job.state === 'cancelled' && r.state === 'cancelled')) {
          this.bump('duplicates');
        }
        this.ack(n, 'result', r.id);
        continue;
      }
      this.finishJob(job, { ...r, node: n.id }, false, n);
    }
  }

  /** Records the first result of a job, frees its node, and pushes the result to the origin. */
  private finishJob(job: Job, r: JobResult, fromOrigin: boolean, reporter?: NodeEntry): void {
    const holder = job.node ? this.nodes.get(job.node) : undefined;
    if (holder) {
      holder.jobs.delete(job);
      if (holder !== reporter) holder.conn?.out.cancel(job.id); // another copy: stop it
      this.loadChanged(holder);
    }
    this.dispatcher.remove(job);
    job.state = r.state;
    job.result = r;
    job.node = r.node;
    job.delivered = fromOrigin;
    if (reporter) reporter.done++;
    this.bump(r.state);
    this.store.finish(job, (err) => {
      if (err) return;
      if (reporter) this.ack(reporter, 'result', job.id);
      if (fromOrigin) this.jobs.delete(job.id);
      else this.pushResult(job);
    });
  }

  private onResReq(n: NodeEntry, f: FrameOf<'RES_REQ'>): void {
    if (f.results.length) this.onResults(n, f.results);
    for (const id of f.missing) {
      const job = this.jobs.get(id);
      if (job && job.node === n.id && !isTerminal(job.state)) this.requeue(job, false);
    }
    for (const id of f.requests) {
      const job = this.jobs.get(id);
      if (job && job.origin === n.id && isTerminal(job.state) && !job.delivered)
        this.pushResult(job);
    }
    this.wantDispatch();
  }

  private onCancel(n: NodeEntry, ids: string[], reqId: number | undefined): void {
    for (const id of ids) {
      const job = this.jobs.get(id);
      if (!job || isTerminal(job.state)) continue;
      const now = Date.now();
      this.finishJob(
        job,
        {
          id,
          state: 'cancelled',
          exitCode: null,
          output: '',
          error: 'cancelled by a client',
          node: job.node,
          attempt: job.attempt,
          startedAt: job.startedAt,
          finishedAt: now,
        },
        false,
      );
    }
    if (reqId !== undefined) {
      this.committer.afterCommit(() =>
        n.conn?.send({
          type: 'RES_REQ',
          reqId,
          views: ids.map((id) => this.view(id)).filter((v): v is JobView => v !== null),
        }),
      );
    }
  }

  private ack(n: NodeEntry, kind: 'job' | 'result', id: string): void {
    if (!n.conn) return;
    if (kind === 'job') n.conn.out.ackJob(id);
    else n.conn.out.ackResult(id);
    this.dirtyNodes.add(n);
  }

  private pushResult(job: Job): void {
    const origin = this.nodes.get(job.origin);
    if (!origin?.conn || !job.result) return;
    job.sentAt = Date.now();
    origin.conn.out.result(job.result);
    this.dirtyNodes.add(origin);
  }

  private pushResultsTo(nodeId: string): void {
    for (const job of this.jobs.values()) {
      if (job.origin === nodeId && isTerminal(job.state) && !job.delivered) this.pushResult(job);
    }
  }

  /** A client's view of any ticket the proxy knows. */
  view(id: string): JobView | null {
    const job = this.jobs.get(id) ?? this.store.get(id);
    if (!job) return null;
    const r = job.result;
    const state = job.state === 'assigned' ? 'queued' : job.state;
    return {
      ticket: job.id,
      state,
      exitCode: r?.exitCode,
      output: r?.output,
      error: r?.error,
      node: r?.node ?? job.node,
      attempts: r?.attempt ?? job.attempt,
      submittedAt: job.submittedAt,
      startedAt: r?.startedAt ?? job.startedAt,
      finishedAt: r?.finishedAt,
      type: job.spec.type,
      args: job.spec.args,
    };
  }

  // ---- dispatch ------------------------------------------------------------------------------

  private refreshAvailability(n: NodeEntry): void {
    this.dispatcher.refresh(n, Boolean(n.conn) && !n.draining);
  }

  private loadChanged(n: NodeEntry): void {
    n.outstanding = n.jobs.size;
    this.refreshAvailability(n);
    this.wantDispatch();
  }

  private wantDispatch(): void {
    if (this.opts.dispatchPeriod > 0) return;
    this.dispatchWanted = true;
    this.committer.kick();
  }

  /** The seed's periodic mode: called every DISPATCH_PERIOD. */
  periodicDispatch(): void {
    this.periodicBudget = this.opts.maxJobsPerDispatch;
    this.dispatch();
    this.periodicBudget = 0;
  }

  /** Gives queued jobs to nodes with room, as the policy chooses. Runs inside the tick's commit. */
  private dispatch(): void {
    this.dispatchWanted = false;
    const budget = this.opts.dispatchPeriod > 0 ? this.periodicBudget : Infinity;
    this.dispatcher.run(budget, (job, n) => this.assign(job, n));
  }

  private assign(job: Job, n: NodeEntry): void {
    job.state = 'assigned';
    job.node = n.id;
    job.attempt++;
    job.placed = false;
    if (!job.given.includes(n.id)) job.given.push(n.id);
    n.jobs.add(job);
    n.outstanding = n.jobs.size;
    this.refreshAvailability(n);
    // An assignment promises nothing to anyone, so the job leaves before it is committed: if
    // this process dies first, the node's HELLO says it holds the job and the restarted proxy
    // gives it back to that node (or tells it to drop it).
    this.sendDispatch(job, n);
    // a job that arrived this tick is not stored yet: its insert will carry the assignment
    if (job.stored) this.store.assign(job);
  }

  private sendDispatch(job: Job, n: NodeEntry): void {
    if (!n.conn) return;
    job.sentAt = Date.now();
    n.conn.out.job({
      id: job.id,
      spec: job.spec,
      origin: job.origin,
      submittedAt: job.submittedAt,
      attempt: job.attempt,
    });
    this.dirtyNodes.add(n);
  }

  /** Puts a job back in the queue, or fails it as LOST when its runs are used up. */
  private requeue(job: Job, wasRunning: boolean): void {
    const n = job.node ? this.nodes.get(job.node) : undefined;
    if (n) {
      n.jobs.delete(job);
      n.outstanding = n.jobs.size;
      this.refreshAvailability(n);
    }
    if (wasRunning) job.lostRuns++;
    if (job.lostRuns >= job.spec.maxAttempts) {
      this.bump('lost');
      this.finishJob(
        job,
        {
          id: job.id,
          state: 'failed',
          exitCode: null,
          output: '',
          error: 'LOST',
          node: job.node,
          attempt: job.attempt,
          startedAt: job.startedAt,
          finishedAt: Date.now(),
        },
        false,
      );
      return;
    }
    job.state = 'queued';
    job.node = null;
    job.placed = false;
    job.startedAt = null;
    this.bump('requeued');
    this.store.requeue(job);
    this.dispatcher.enqueue(job);
    this.wantDispatch();
  }

  // ---- periodic repair -----------------------------------------------------------------------

  /**
   * The REQUEST_OF_RES sweep: asks each node for results of jobs placed on it, and resends
   * dispatches and results that went unacknowledged for a period (a lost frame).
   */
  sweep(periodMs: number, now = Date.now()): void {
    for (const n of this.nodes.values()) {
      if (!n.conn) continue;
      const ids: string[] = [];
      for (const job of n.jobs) {
        if (job.placed) ids.push(job.id);
        else if (now - job.sentAt >= periodMs) this.sendDispatch(job, n);
      }
      if (ids.length) n.conn.send({ type: 'REQUEST_OF_RES', ids: ids.slice(0, MAX_BATCH) });
      n.conn.out.flush();
    }
    for (const job of this.jobs.values()) {
      if (isTerminal(job.state) && !job.delivered && now - job.sentAt >= periodMs)
        this.pushResult(job);
    }
    for (const n of this.dirtyNodes) n.conn?.out.flush();
    this.dirtyNodes.clear();
  }

  /** Deletes delivered results older than the TTL. */
  expire(ttlMs: number, now = Date.now()): number {
    return this.store.expire(now - ttlMs);
  }

  /** Commits everything and stops dispatching (graceful stop). */
  stop(): void {
    this.committer.beforeFlush = () => {};
    this.store.saveCounters(this.counters);
    this.committer.flush();
  }
}
