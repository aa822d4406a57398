import type { Committer } from '../shared/db.js';
import { isTerminal } from '../shared/job.js';
import { runOfResult, type JobResult } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import type { Counters } from './counters.js';
import type { JobRecord, JobStore } from './job-store.js';
import type { Job, JobTable } from './job-table.js';
import { resultJson } from './job-text.js';
import type { Membership, NodeEntry } from './membership.js';
import type { Outbox } from './outbox.js';
import { mayRetry, retryDelay } from './retries.js';

export interface ResultsDeps {
  table: JobTable;
  store: JobStore;
  members: Membership;
  outbox: Outbox;
  counters: Counters;
  committer: Committer;
  log: Logger;
  /** Takes a finishing job off its node, out of the queue and out of waiting. */
  release(job: Job, reporter: NodeEntry | undefined): void;
  /** A node reported the result of a job it was given (the round trip it shows). */
  reported(n: NodeEntry, job: Job, r: JobResult): void;
  /** Told of each job's final state once (metrics). */
  finished?: (job: Job) => void;
  /** A task's result was recorded: its job may end. */
  taskEnded(task: Job): void;
  /** A job's result reached its origin (its tasks may leave memory). */
  delivered(job: Job): void;
  /** Whether a ticket no row holds had its result expired here (see undelivered.ts). */
  expired(id: string): boolean;
  /** Holds a job until its due time (a retry's backoff). */
  hold(job: Job): void;
  /** A job ended: the jobs waiting for it learn how. */
  settled(job: Job): void;
}

/**
 * Failed and cancelled jobs whose last attempt is remembered: a node reports a run stopped by a
 * cancel within moments, so only the latest ones matter.
 */
const SETTLED_KEPT = 10_000;

/**
 * How long the result of a job cancelled while it ran waits for its node's report of the
 * stopped run (which has the output printed so far) before it goes to the origin without it:
 * a node stops a run within moments, a program whose descendants hold its pipes within 2 s.
 */
export const STOP_REPORT_MS = 2_500;

/**
 * Results and their delivery: the first result of a job counts (later ones are duplicates), a
 * failed run comes back after its backoff while its `retry` budget lasts, the final result is
 * committed before anyone hears of it, and it is pushed to the job's origin until the origin
 * acknowledges it; then the job leaves memory.
 */
export class Results {
  /**
   * Of jobs that ended failed or cancelled lately, the last attempt given out before they
   * ended (memory only, the newest `SETTLED_KEPT`). Once RETRY runs such a job again, a node's
   * late report of one of those runs (stopped by a cancel, or cancelled at its origin before
   * the proxy heard) is of a run settled already, never the new run's result.
   */
  private readonly settledAttempts = new Map<string, number>();
  /**
   * Jobs cancelled while running on a connected node: the run it stops, and until when their
   * result waits for that node's report of it (memory only: after a restart it goes without).
   */
  private readonly stopping = new Map<string, { node: string; attempt: number; until: number }>();

  constructor(private readonly d: ResultsDeps) {}

  /** Results reported by the node that ran them. */
  onResults(n: NodeEntry, results: JobResult[]): void {
    const { table, counters, outbox, log } = this.d;
    for (const r of results) {
      const job = table.find(r.id);
      if (!job || !job.given.includes(n.id)) {
        // never given to this node: recorded nowhere; the ack only stops it being resent
        counters.bump('rejected');
        log.warn({ node: n.id, job: r.id }, 'result for a job this node was not given');
        outbox.ack(n, 'result', r.id);
        continue;
      }
      const recorded = job.runs.some((x) => x.node === n.id && x.attempt === r.attempt);
      if (!isTerminal(job.state) && (recorded || this.settledRun(r))) {
        outbox.ack(n, 'result', r.id); // a resend of a failed run already retried, or rerun
        continue;
      }
      if (!isTerminal(job.state) && r.state === 'cancelled') {
        // A node ends a run cancelled only when this proxy sent it CANCEL. A client's cancel
        // ends the job here first; so this is a copy stopped while the job went on (another
        // copy's failure began a retry), or a run cancelled before RETRY that a restart of
        // this proxy forgot: not the job's outcome.
        outbox.ack(n, 'result', r.id);
        continue;
      }
      if (isTerminal(job.state)) {
        const resent = job.result?.node === n.id && job.result.attempt === r.attempt;
        // a resend of the recorded result (its ACK was lost) is not a second run; neither is
        // the report of a copy stopped by a client's cancel or by its twin's result
        if (!resent && r.state !== 'cancelled') {
          counters.bump('duplicates');
        }
        this.stopped(job, n, r);
        outbox.ack(n, 'result', r.id);
        continue;
      }
      this.d.reported(n, job, r);
      // the frame's own object (nobody else holds it) is the result: its node is the reporter
      r.node = n.id;
      this.ended(job, r, n);
    }
  }

  /** A run ended on `reporter`: the job's result, or a retry after its backoff. */
  private ended(job: Job, r: JobResult, reporter: NodeEntry): void {
    if (r.state !== 'failed' || !mayRetry(job.spec, job.failedRuns + 1)) {
      job.runs.push(runOfResult(r));
      this.finish(job, r, false, reporter);
      return;
    }
    const { store, counters, outbox } = this.d;
    this.d.release(job, reporter);
    reporter.done++;
    job.runs.push(runOfResult(r));
    job.failedRuns++;
    job.node = null;
    job.placed = false;
    job.startedAt = null;
    job.dueAt = Date.now() + retryDelay(job.spec, job.failedRuns);
    counters.bump('retried');
    this.d.hold(job);
    // the reporter forgets its run only once the retry's due time is on disk
    store.save(job, (err) => {
      if (!err) outbox.ack(reporter, 'result', job.id);
    });
  }

  /**
   * `job` is being cancelled (its result comes next): if it runs on a connected node, its
   * result waits for that node's report of the stopped run, to keep what it printed.
   */
  awaitStop(job: Job, now = Date.now()): void {
    const n = job.node ? this.d.members.get(job.node) : undefined;
    if (!n?.conn || job.parent !== null) return;
    if (job.state !== 'running' && job.state !== 'assigned') return;
    this.stopping.set(job.id, { node: n.id, attempt: job.attempt, until: now + STOP_REPORT_MS });
  }

  /**
   * `n` reported the run of `job` it stopped for a cancel: the cancelled result takes its
   * output and lists the run, then goes to the origin (it waited for this, see `awaitStop`).
   */
  private stopped(job: Job, n: NodeEntry, r: JobResult): void {
    const s = this.stopping.get(job.id);
    const cur = job.result;
    if (!s || s.node !== n.id || s.attempt !== r.attempt || cur?.state !== 'cancelled') return;
    s.until = Infinity; // held until the push below
    const release = () => {
      this.stopping.delete(job.id);
      this.push(job);
    };
    // stopped before it started: nothing printed, no run to list
    if (!r.startedAt) return this.d.committer.afterCommit(release);
    const error = r.state === 'cancelled' ? cur.error : r.error;
    job.runs.push(runOfResult({ ...r, node: n.id, error }));
    // a new object: the job's stored text is made again from it
    job.result = {
      ...cur,
      output: r.output,
      startedAt: cur.startedAt ?? r.startedAt,
      runs: [...job.runs],
    };
    this.d.store.finish(job, release);
  }

  /** Whether the result of `job` still waits for the report of its stopped run. */
  private held(job: Job, now = Date.now()): boolean {
    const s = this.stopping.get(job.id);
    if (!s) return false;
    // a RETRY since runs it again: its next result goes as any other
    if (now < s.until && job.state === 'cancelled' && job.attempt === s.attempt) return true;
    this.stopping.delete(job.id);
    return false;
  }

  /** The origin ran (or cancelled) a job itself while the proxy was away. */
  originDecided(job: Job, r: JobResult, origin?: NodeEntry): void {
    const { table, store } = this.d;
    this.stopping.delete(job.id); // the origin's result, with its output, is the one
    const live = table.get(job.id);
    if (!live || isTerminal(live.state)) {
      const rec = live ?? job;
      if (this.settleDecided(rec, r)) store.finish(rec);
      table.delete(job.id);
      return;
    }
    // a run the origin started itself (LOCAL_START) ends on its own node: no copy to cancel;
    // one the proxy placed (on any node, the origin too) is stopped when the origin decided
    // without it (a cancel before the proxy's ack reached it)
    const own = origin !== undefined && live.node === origin.id && r.node === origin.id;
    this.finish(live, r, true, own ? origin : undefined);
  }

  /**
   * The origin's result `r` of a job that has a result already: both ran it (the proxy had it,
   * but its ACK was lost while the origin fell back). The origin already answered its clients,
   * so its result is the one every node must give: `rec` takes it, and true says its row is to
   * be written. The same result sent again (its ACK was lost) is not a second run: false.
   */
  settleDecided(rec: JobRecord, r: JobResult): boolean {
    if (rec.result?.finishedAt === r.finishedAt && rec.result?.node === r.node) return false;
    if (r.state !== 'cancelled') this.d.counters.bump('duplicates');
    rec.result = r;
    rec.runs = r.runs ? [...r.runs] : []; // the origin's, as its clients see them
    rec.state = r.state;
    rec.node = r.node;
    rec.delivered = true;
    return true;
  }

  /** Records the final result of a job, frees its node, and pushes the result to the origin. */
  finish(job: Job, r: JobResult, fromOrigin: boolean, reporter?: NodeEntry): void {
    const { table, store, counters, outbox } = this.d;
    this.d.release(job, reporter);
    // a result the origin decided (a run it started itself, LOCAL_START, or under fallback) is
    // given by every node as the origin gives it, with the origin's runs: a copy the proxy ran
    // meanwhile is a duplicate the origin's clients never saw
    if (fromOrigin) job.runs = r.runs ? [...r.runs] : [];
    // every caller hands over a result of its own: it is completed in place, not copied
    if (job.runs.length) r.runs = [...job.runs];
    if (r.state !== 'done') this.noteSettled(job.id, Math.max(job.attempt, r.attempt));
    job.state = r.state;
    job.result = r;
    job.node = r.node;
    job.delivered = fromOrigin;
    if (reporter) reporter.done++;
    const task = job.parent !== null;
    counters.bump(task ? 'tasks' : r.state);
    if (!task) this.d.finished?.(job);
    // the origin's own result is only acked (lazily); any other goes on to its origin
    store.finish(
      job,
      (err) => {
        if (err) return;
        if (reporter) outbox.ack(reporter, 'result', job.id);
        // a RETRY may have run it again meanwhile: then it is live, and stays in memory
        if (fromOrigin) {
          if (table.get(job.id) === job && job.result === r) table.delete(job.id);
        } else this.push(job);
      },
      { lazy: fromOrigin },
    );
    // a task's job may end with it, in the same commit
    if (task) this.d.taskEnded(job);
    this.d.settled(job);
  }

  /** Attempts up to `attempt` of `id` ended with the job (see `settledAttempts`). */
  private noteSettled(id: string, attempt: number): void {
    this.settledAttempts.delete(id); // the newest go last, the oldest are forgotten first
    this.settledAttempts.set(id, attempt);
    if (this.settledAttempts.size > SETTLED_KEPT) {
      const oldest = this.settledAttempts.keys().next();
      if (!oldest.done) this.settledAttempts.delete(oldest.value);
    }
  }

  /** Whether `r` reports a run that ended with its job before RETRY ran it again. */
  private settledRun(r: JobResult): boolean {
    return r.attempt <= (this.settledAttempts.get(r.id) ?? 0);
  }

  /** The origin acknowledged these results: they leave memory. */
  onDelivered(n: NodeEntry, ids: string[]): void {
    const delivered: string[] = [];
    for (const id of ids) {
      const job = this.d.table.get(id);
      if (job && job.origin === n.id && isTerminal(job.state) && !job.delivered) {
        job.delivered = true;
        this.d.table.delete(id);
        delivered.push(id);
        this.d.delivered(job);
      }
    }
    if (delivered.length) this.d.store.delivered(delivered);
  }

  /**
   * The origin asks again for results it misses; those that expired here are named in
   * `missing`, so that it stops waiting for them.
   */
  onRequested(n: NodeEntry, ids: string[]): void {
    const gone: string[] = [];
    for (const id of ids) {
      // delivered or not: an origin asks only for what it lacks. A result it decided itself
      // (LOCAL_START) comes here before its own commit, and a crash between the two loses it
      // there while it counts here as delivered.
      const job = this.d.table.find(id);
      if (job && job.origin === n.id && isTerminal(job.state)) this.push(job);
      else if (!job && this.d.expired(id)) gone.push(id);
    }
    if (gone.length) n.conn?.send({ type: 'RES_REQ', missing: gone });
  }

  /** Sends a committed result to its origin (again). */
  push(job: Job): void {
    const origin = this.d.members.get(job.origin);
    // a task's result goes no further: its job's result, when it ends, carries it
    if (!origin || !job.result || job.parent !== null || this.held(job)) return;
    if (this.d.outbox.result(origin, resultJson(job))) job.sentAt = Date.now();
    // its text was made for its row and this push; a resend makes it again
    job.resultJson = undefined;
  }

  /** Sends every undelivered result of `nodeId`'s tickets (it just joined). */
  pushTo(nodeId: string): void {
    for (const job of this.d.table.values()) {
      if (job.origin === nodeId && isTerminal(job.state) && !job.delivered) this.push(job);
    }
  }

  /** Resends results unacknowledged for `periodMs` (a lost frame). */
  resendDue(periodMs: number, now = Date.now()): void {
    // a stopped run never reported (its node left): its job's result goes without its output
    for (const [id, s] of this.stopping) if (now >= s.until) this.stopping.delete(id);
    for (const job of this.d.table.values()) {
      if (isTerminal(job.state) && !job.delivered && now - job.sentAt >= periodMs) this.push(job);
    }
  }
}
