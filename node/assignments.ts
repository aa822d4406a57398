import { CANCELLED_BY_CLIENT, type JobSpec } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import { MAX_BATCH, MAX_LOST_WHY, type FrameOf, type WireJob } from '../shared/protocol.js';
import type { Executor } from './executor.js';
import type { RunOutcome } from './job-runner.js';
import type { ProxyLink } from './proxy-link.js';
import { resultOf } from './results.js';
import type { WorkRow, WorkStore } from './work-store.js';

/** A job given to this node to run. */
interface Work {
  id: string;
  spec: JobSpec;
  origin: string;
  submittedAt: number;
  attempt: number;
  state: WorkRow['state'];
  result: JobResult | null;
  /** Whether its row exists (or is written by a statement already queued). */
  stored?: boolean;
}

/**
 * The executor role: the jobs the proxy gave this node. Each is committed before it is acked
 * (one whose result left before that commit is not acked: the result says more), runs on the
 * executor, and keeps its result until the proxy acknowledges it.
 */
export class Assignments {
  private readonly work = new Map<string, Work>();
  private started: Array<{ id: string; at: number }> = [];
  /**
   * Later runs given while this node still stops an earlier one (a cancel, then a RETRY):
   * taken, committed and acked once that run ends, so the rerun starts then, not at the
   * proxy's next sweep.
   */
  private readonly parked = new Map<string, WireJob>();
  /** Hands every new dispatch straight back (the node is stopping). */
  refusing = false;

  constructor(
    private readonly store: WorkStore,
    private readonly link: ProxyLink,
    private readonly executor: Executor,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  /** Loads what this node held when it stopped; unfinished jobs run again. */
  restore(): void {
    for (const w of this.store.all()) {
      this.work.set(w.id, { ...w, stored: true });
      // a job that was running when the process died runs again: execution is at-least-once
      if (w.state !== 'finished') this.executor.enqueue(w.id, w.spec, w.attempt);
    }
  }

  has(id: string): boolean {
    return this.work.has(id);
  }

  /** What HELLO tells the proxy this node holds. */
  holds(): FrameOf<'HELLO'>['holds'] {
    return [...this.work.values()].map((w) => ({
      id: w.id,
      state: w.state,
      attempt: w.attempt,
      job: { spec: w.spec, origin: w.origin, submittedAt: w.submittedAt },
    }));
  }

  /** Whether jobs started since the last INFO. */
  hasStarted(): boolean {
    return this.started.length > 0;
  }

  /** Jobs started since the last INFO. */
  takeStarted(): Array<{ id: string; at: number }> {
    const s = this.started;
    this.started = [];
    return s.slice(0, MAX_BATCH);
  }

  /** Whether results still wait for the proxy's ACK. */
  hasUnackedResults(): boolean {
    for (const w of this.work.values()) if (w.result) return true;
    return false;
  }

  /** New jobs from the proxy: committed, then acked; they may start before the commit. */
  dispatched(jobs: WireJob[]): void {
    const acks: string[] = [];
    const refused: string[] = [];
    let pending = 0;
    for (const j of jobs) {
      const had = this.work.get(j.id);
      // A later run of a job whose last result waits for its ACK: the proxy recorded that
      // result before giving the job again (a retry), so the new run replaces it.
      const later = had !== undefined && (j.attempt ?? 1) > had.attempt;
      if (later && !had.result) {
        this.parked.set(j.id, j); // unacked: after a crash here the proxy sends it again
        continue;
      }
      const rerun = later && had.result;
      if (had && !rerun) {
        acks.push(j.id); // a resent dispatch
        continue;
      }
      if (this.refusing || !this.executor.accepts(j.spec)) {
        // crossed our INFO saying we are stopping, or that its type's workers left: hand it
        // straight back
        refused.push(j.id);
        continue;
      }
      const w: Work = {
        id: j.id,
        spec: j.spec,
        origin: j.origin,
        submittedAt: j.submittedAt,
        attempt: j.attempt ?? 1,
        state: 'queued',
        result: null,
      };
      this.work.set(j.id, w);
      pending++;
      this.store.insert(w, (err) => {
        if (err) {
          this.log.error({ err }, 'could not commit dispatched work');
          this.drop(j.id); // unacknowledged: the proxy sends it again or elsewhere
        } else if (!this.work.get(j.id)?.result) acks.push(j.id);
        // else: its result left already and says more than the ACK would (the proxy takes a
        // result of a job it gave here whether or not the job was acknowledged)
        if (--pending === 0 && acks.length) this.link.ackJobs(acks);
      });
      // It may start before its row commits (a quick job then commits its result in the same
      // transaction): only the ACK, the promise to the proxy, waits for the commit.
      this.executor.enqueue(j.id, j.spec, w.attempt);
    }
    if (pending === 0 && acks.length) this.link.ackJobs(acks);
    if (refused.length) this.link.send({ type: 'RES_REQ', missing: refused });
  }

  /** The proxy recorded these results: their rows are no longer needed. */
  acked(ids: string[]): void {
    const done: string[] = [];
    for (const id of ids) {
      const w = this.work.get(id);
      if (w && w.state === 'finished') {
        this.work.delete(id);
        done.push(id);
      }
    }
    if (done.length) this.store.remove(done);
  }

  onStarted(id: string, at: number): void {
    const w = this.work.get(id);
    if (!w) return;
    // kept in memory: after a crash the job runs again whatever its row says
    w.state = 'running';
    this.started.push({ id, at });
  }

  onFinished(id: string, o: RunOutcome, startedAt: number, finishedAt: number): void {
    const w = this.work.get(id);
    if (!w || w.result) return;
    const r = resultOf(id, this.nodeId, w.attempt, o, startedAt, finishedAt);
    w.state = 'finished';
    w.result = r;
    this.unstarted(id); // the result carries its start: the INFO need not
    // The result leaves at once: it promises nothing until the proxy commits it. The local
    // row only lets this node send it again after a crash (without it, the job reruns).
    this.link.result(r);
    if (w.stored) this.store.finished(r);
    // else: the insert still queued writes the result too
    this.takeParked(id);
  }

  /** Takes the later run parked behind `id`'s run, which just ended; false if none. */
  private takeParked(id: string): boolean {
    const next = this.parked.get(id);
    if (!next) return false;
    this.parked.delete(id);
    // outside the executor's callback, which has not yet freed the slot
    queueMicrotask(() => this.dispatched([next]));
    return true;
  }

  /** Takes `id` out of the starts the next INFO would report (usually the last one). */
  private unstarted(id: string): void {
    const s = this.started;
    const i =
      s.length > 0 && s[s.length - 1]?.id === id ? s.length - 1 : s.findIndex((x) => x.id === id);
    if (i >= 0) s.splice(i, 1);
  }

  /** The proxy cancelled a job: a waiting one ends cancelled now, a running one is stopped. */
  cancel(id: string): void {
    const w = this.work.get(id);
    if (!w || w.result) return;
    if (this.executor.cancel(id) === 'queued') {
      const cancelled: RunOutcome = {
        state: 'cancelled',
        exitCode: null,
        output: '',
        error: CANCELLED_BY_CLIENT,
      };
      this.onFinished(id, cancelled, 0, Date.now());
    }
  }

  /** Forgets a copy the proxy gave to another node. */
  drop(id: string): void {
    this.parked.delete(id);
    this.executor.cancel(id, true);
    if (this.work.delete(id)) this.store.remove([id]);
  }

  /** The sweep: results of the asked jobs this node finished, and those it does not hold. */
  sweep(ids: string[]): { results: JobResult[]; missing: string[] } {
    const results: JobResult[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const w = this.work.get(id);
      if (!w) missing.push(id);
      else if (w.result) results.push(w.result);
    }
    return { results, missing };
  }

  /**
   * Gives jobs back to the proxy ("missing": this node no longer holds them, re-queue them).
   * The rows go in a deferred write: should this node die first, its HELLO still lists them
   * and the proxy tells it to drop the copies it gave to others.
   */
  handBack(ids: string[]): void {
    const mine = ids.filter((id) => this.work.has(id));
    if (mine.length === 0) return;
    for (const id of mine) {
      this.work.delete(id);
      this.parked.delete(id);
    }
    this.store.remove(mine);
    this.link.send({ type: 'RES_REQ', missing: mine });
  }

  /**
   * A job's run here ended without a result (its worker left or went silent), or it could not
   * start (no worker of its type is left): it goes back to the proxy to be placed again, a run
   * that started counting as lost, with `why` for its run's error. Without the link, the proxy
   * learns it from the next HELLO.
   */
  lost(id: string, ran: boolean, why: string): void {
    const w = this.work.get(id);
    if (!w || w.result) return;
    this.work.delete(id);
    this.store.remove([id]);
    if (this.takeParked(id)) return; // the proxy moved on already: its later run takes over
    if (!ran) return void this.link.send({ type: 'RES_REQ', missing: [id] });
    const lost = [{ id, why: why.slice(0, MAX_LOST_WHY) }];
    this.link.send({ type: 'RES_REQ', lost });
  }

  /** Sends again the unacknowledged results that finished before `cutoff` (all: Infinity). */
  resendResults(cutoff: number): void {
    for (const w of this.work.values()) {
      if (w.result && w.result.finishedAt < cutoff) this.link.result(w.result);
    }
  }
}
