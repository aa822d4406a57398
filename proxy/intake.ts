import type { Committer } from '../shared/db.js';
import type { WireCode } from '../shared/errors.js';
import { ticketTime } from '../shared/ids.js';
import { requestedRunAt } from '../shared/job.js';
import type { Logger } from '../shared/log.js';
import type { JobResult } from '../shared/job-view.js';
import type { FrameOf, WireJob } from '../shared/protocol.js';
import { AFTER_GRACE_MS, ClaimWaits } from './claim-waits.js';
import type { Counters } from './counters.js';
import type { Holding } from './holding.js';
import type { JobRecord, JobStore } from './job-store.js';
import { newJob, toView, type Job, type JobTable } from './job-table.js';
import type { Membership, NodeEntry } from './membership.js';
import type { Outbox } from './outbox.js';
import type { Results } from './results.js';

export interface IntakeDeps {
  table: JobTable;
  store: JobStore;
  holding: Holding;
  results: Results;
  members: Membership;
  outbox: Outbox;
  counters: Counters;
  committer: Committer;
  /** A job reached its final state (for the latency metrics). */
  finished: (job: Job) => void;
  /** The origin `n` started `job` itself (LOCAL_START): it runs there. */
  startedHere: (job: Job, n: NodeEntry) => void;
  /** Whether a ticket is a schedule's (never a job's own: a job waits for one of its runs). */
  isSchedule: (id: string) => boolean;
  log: Logger;
}

/** A job its origin decided (ran or cancelled itself), as this proxy records it. */
function decidedJob(j: WireJob, r: JobResult, seq: number): Job {
  const { id, spec, origin, submittedAt } = j;
  const job = newJob({ id, spec, origin, submittedAt, seq });
  job.state = r.state;
  job.node = r.node;
  job.attempt = 1;
  job.startedAt = r.startedAt;
  job.result = r;
  job.delivered = true;
  job.runs = r.runs ? [...r.runs] : [];
  return job;
}

/**
 * Jobs forwarded by their origin node: each is stored once (a resend is acked again, not
 * stored twice), held or queued, and acked to the origin only after its commit. A node may
 * speak only for the tickets it issued. Jobs with an idempotency key or dependencies are
 * claimed instead: the proxy decides which ticket the client gets.
 */
export class Intake {
  private readonly startedAt = Date.now();
  /** Keys of jobs accepted but not yet committed (committed ones are read from the store). */
  private readonly freshKeys = new Map<string, string>();
  /** Claims waiting for a ticket of their `after` to arrive (its forward is on its way). */
  private readonly waits = new ClaimWaits();

  constructor(private readonly d: IntakeDeps) {}

  onForwarded(n: NodeEntry, jobs: WireJob[]): void {
    for (const j of jobs) {
      if (!this.mayIssue(n, j)) continue;
      const existing = this.known(j);
      if (!existing && j.result) {
        this.acceptDecided(j, j.result, n);
        continue;
      }
      if (!existing) {
        this.accept(j, () => this.d.outbox.ack(n, 'job', j.id), n);
        continue;
      }
      if (existing.origin !== n.id) {
        this.reject(n, j.id, 'a node forwarded a job it did not issue');
        continue;
      }
      // a result decided at the origin is acked in `ACK.results`, so the origin never takes
      // the ack of the job's earlier forward (its placement) for the result's
      if (j.result) this.d.results.originDecided(existing, j.result, n);
      const kind = j.result ? 'decided' : 'job';
      // an ack only stops the origin sending again: it shares the next sync (a lazy write)
      this.d.committer.afterCommit(() => this.d.outbox.ack(n, kind, j.id), { lazy: true });
    }
  }

  /**
   * A job with a key or dependencies: answered, once committed, with the ticket the client is
   * to get: the key's existing ticket, or this job's; or refused (an unknown ticket in after).
   * A recent ticket of `after` not known yet is waited for until `deadline`: the node that
   * issued it may not have forwarded it yet.
   */
  onClaim(n: NodeEntry, reqId: number, j: WireJob, deadline = Date.now() + AFTER_GRACE_MS): void {
    const answer = (ticket: string | null, error?: { code: WireCode; message: string }) =>
      this.d.committer.afterCommit(() => {
        const job = ticket === null ? undefined : this.d.table.find(ticket);
        const views = job ? [toView(job)] : [];
        n.conn?.send({ type: 'RES_REQ', reqId, views, error });
      });
    if (!this.mayIssue(n, j)) {
      return answer(null, { code: 'FORBIDDEN', message: 'a node claims only its own tickets' });
    }
    const existing = this.d.table.find(j.id);
    if (existing) {
      // a claim sent again (its answer was lost, or the proxy restarted)
      if (existing.origin === n.id) return answer(existing.id);
      this.reject(n, j.id, 'a node claimed a job it did not issue');
      return answer(null, { code: 'FORBIDDEN', message: 'not this node’s ticket' });
    }
    const key = j.spec.key;
    const keyed = key === undefined ? undefined : this.ticketOfKey(key);
    if (keyed) return answer(keyed);
    const unknown = (j.spec.after ?? []).filter((t) => !this.d.table.find(t));
    const schedule = unknown.find((t) => this.d.isSchedule(t));
    if (schedule) {
      const message = `after: ${schedule} is a schedule, which never ends: name one of its runs`;
      return answer(null, { code: 'BAD_REQUEST', message });
    }
    if (unknown.length) {
      const retry = () => this.onClaim(n, reqId, j, deadline);
      if (this.waits.park(unknown, deadline, retry)) return;
      return answer(null, { code: 'BAD_REQUEST', message: `after: unknown ticket ${unknown[0]}` });
    }
    if (key !== undefined) this.freshKeys.set(key, j.id);
    this.accept(j, () => {
      if (key !== undefined && this.freshKeys.get(key) === j.id) this.freshKeys.delete(key);
    });
    answer(j.id);
  }

  /** Waits, as a claim does, until one of `unknown` arrives (see `ClaimWaits.park`). */
  waitFor(unknown: readonly string[], deadline: number, retry: () => void): boolean {
    return this.waits.park(unknown, deadline, retry);
  }

  /** The ticket a key names while its job is known, if any. */
  private ticketOfKey(key: string): string | undefined {
    const fresh = this.freshKeys.get(key);
    if (fresh) return fresh;
    const stored = this.d.store.keyTicket(key);
    return stored !== undefined && this.d.table.find(stored) ? stored : undefined;
  }

  private mayIssue(n: NodeEntry, j: WireJob): boolean {
    if (j.origin === n.id) return true;
    this.reject(n, j.id, 'a node forwarded another node’s job');
    return false;
  }

  private reject(n: NodeEntry, job: string, why: string): void {
    this.d.counters.bump('rejected');
    this.d.log.warn({ node: n.id, job }, why);
  }

  /**
   * The job already known by its ticket, when memory tells. Only a job already delivered is in
   * the database but not in memory, and its origin has its result, so it forwards it again only
   * with that result (its insert then finds the row: `acceptDecided`), or after this proxy's
   * restart (read then): the common case needs no read.
   */
  private known(j: WireJob): Job | undefined {
    const { table } = this.d;
    const live = table.get(j.id);
    if (live) return live;
    return ticketTime(j.id) < this.startedAt ? table.find(j.id) : undefined;
  }

  /** A job the proxy issues itself (a schedule's firing): stored and queued as if forwarded. */
  issue(j: WireJob): void {
    this.accept(j, () => {});
  }

  /**
   * Stores a new job, then holds or queues it, or records it running on its origin `from` when
   * that started it (LOCAL_START); `committed` runs once it is on disk. It promises no client
   * anything (an ack, a key's note): the insert is a lazy write, sharing the next sync.
   */
  private accept(j: WireJob, committed: () => void, from?: NodeEntry): void {
    const { table, store, holding, counters } = this.d;
    if (j.result) {
      // only a claim could carry one (its origin never sends it so)
      this.acceptDecided(j, j.result, from, committed);
      return;
    }
    const { id, spec, origin, submittedAt } = j;
    const job = newJob({ id, spec, origin, submittedAt, seq: table.nextSeq() });
    job.dueAt = requestedRunAt(spec, submittedAt) ?? null;
    counters.bump('submitted');
    store.insert(
      job,
      (err) => {
        if (!err) committed();
      },
      { lazy: true },
    );
    table.add(job);
    if (j.startedHere && from) this.d.startedHere(job, from);
    else holding.admit(job);
    this.waits.arrived(id);
  }

  /**
   * A job its origin `from` ran (or cancelled) itself, forwarded with its result: stored as
   * delivered (not live here) and acked once committed. Its insert tells, inside the
   * transaction, whether it is new, and only a new one counts. Else the row found there is
   * another origin's (refused, not acked) or a copy sent before (its ACK was lost, or it came
   * again before its first commit, whose insert runs first in the same transaction), settled
   * as `Results.settleDecided` says: so a copy is judged by the row, never by a copy in flight.
   */
  private acceptDecided(j: WireJob, r: JobResult, from?: NodeEntry, committed?: () => void) {
    const { table, store, counters, results } = this.d;
    const job = decidedJob(j, r, table.nextSeq());
    let ours = true;
    const settle = (stored: JobRecord | undefined): JobRecord | undefined => {
      if (!stored) this.counted(job, r, from);
      else if (from && stored.origin !== from.id) {
        ours = false;
        this.reject(from, job.id, 'a node forwarded a job it did not issue');
      } else if (results.settleDecided(stored, r)) return stored;
      return undefined;
    };
    counters.willCount();
    store.insertDecided(job, settle, (err) => {
      if (!err) this.waits.arrived(job.id);
      if (err || !ours) return;
      if (committed) committed();
      else if (from) this.d.outbox.ack(from, 'decided', job.id);
    });
  }

  /** A job decided at its origin `from` was new here: counted, as every node's results are. */
  private counted(job: Job, r: JobResult, from: NodeEntry | undefined): void {
    const { counters } = this.d;
    counters.bump('submitted');
    counters.bump(r.state);
    // a run its origin started itself (LOCAL_START) counts for that node, like any result
    if (from && r.node === from.id) from.done++;
    this.d.finished(job);
  }

  /**
   * A joining node holds a copy of a job this proxy never heard of: it took over a group (or
   * lost its file) after another proxy gave the job out. The copy is adopted as placed on that
   * node, so it is neither run again nor dropped; its origin's resend then finds it known.
   */
  adopt(n: NodeEntry, h: FrameOf<'HELLO'>['holds'][number]): Job | undefined {
    const { table, store, counters } = this.d;
    if (!h.job) return undefined;
    // a task's copy is adopted as a job of its own until its job comes again (JobTasks.accept)
    const job = newJob({
      id: h.id,
      spec: h.job.spec,
      origin: h.job.origin,
      submittedAt: h.job.submittedAt,
      seq: table.nextSeq(),
      state: h.state === 'running' ? 'running' : 'assigned',
      node: n.id,
      attempt: h.attempt ?? 1,
      placed: true,
      given: [n.id],
      sentAt: Date.now(),
    });
    counters.bump('submitted');
    table.add(job);
    table.noteAdopted(job.id);
    n.jobs.add(job);
    store.insert(job);
    this.waits.arrived(job.id);
    return job;
  }

  /** This proxy stops leading: claims still waiting are dropped (their nodes ask again). */
  close(): void {
    this.waits.close();
  }
}
