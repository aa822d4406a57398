import { newTicket } from '../shared/ids.js';
import type { ClientState, JobSpec } from '../shared/job.js';
import type { JobResult, JobView } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import type { WireJob } from '../shared/protocol.js';
import { firingAt, nextDue } from '../shared/schedule-clock.js';
import type { ScheduleRecord, ScheduleStorage } from './schedule-store.js';

/** Runs a schedule's view lists. */
const VIEW_RUNS = 20;
/** setTimeout's longest delay; a later due time is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Cron reads in this zone when a schedule names none, whatever the proxy's machine says. */
export const DEFAULT_TZ = 'UTC';

export interface ScheduleDeps {
  store: ScheduleStorage;
  /** Stores and queues a firing's job as an ordinary job, in the current tick's transaction. */
  issue(job: WireJob): void;
  /** A run's state, as its job says (null once it expired). */
  stateOf(ticket: string): ClientState | null;
  /** Acks a forwarded schedule to its origin (called once it is committed). */
  ack(origin: string, id: string): void;
  /** Tells the origin its schedule ended (cancelled); it acks like any result. */
  ended(origin: string, r: JobResult): void;
  log: Logger;
  now?: () => number;
}

/**
 * Schedules (jobs with `cron`) live on the proxy: one timer for the earliest due time; each
 * firing creates an ordinary job with its own ticket and moves the schedule's next due time in
 * the same transaction, so a crash never fires a due time twice, and a proxy that was down
 * fires a missed due time once when it returns. The schedule's own ticket answers RESULT with
 * its next firing and newest runs, and CANCEL stops it.
 */
export class Schedules {
  private readonly all = new Map<string, ScheduleRecord>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly now: () => number;
  /** Runs an earlier leader fired that did not finish: issued again on the first tick. */
  private reissue: WireJob[];
  /** Runs fired whose firing is not yet durable: not shown until they are issued. */
  private readonly issuing = new Set<string>();
  /** Firings skipped per schedule since this proxy started (see `fireDue`). */
  private readonly skips = new Map<string, number>();
  /** Schedules whose latest firing was skipped: logged once, when that began. */
  private readonly skipping = new Set<string>();
  /** Firings made and skipped since this proxy began to lead (for `/metrics`). */
  private readonly counted = { fired: 0, skipped: 0 };

  constructor(private readonly d: ScheduleDeps) {
    this.now = d.now ?? Date.now;
    for (const s of d.store.all()) this.all.set(s.id, s);
    this.reissue = d.store.unfinishedRuns();
    this.arm();
  }

  get active(): number {
    let n = 0;
    for (const s of this.all.values()) if (s.state === 'active') n++;
    return n;
  }

  /** Active schedules, and firings made and skipped since this proxy began to lead. */
  get counts(): { active: number; fired: number; skipped: number } {
    return { active: this.active, ...this.counted };
  }

  has(id: string): boolean {
    return this.all.has(id);
  }

  /**
   * Takes the schedules out of forwarded jobs (each stored once, acked once committed) and
   * returns the other jobs.
   */
  take(from: string, jobs: WireJob[]): WireJob[] {
    const rest: WireJob[] = [];
    for (const j of jobs) {
      // another node's ticket is the intake's to refuse
      if (j.spec.cron === undefined || j.origin !== from) rest.push(j);
      else this.accept(j);
    }
    return rest;
  }

  private accept(j: WireJob): void {
    const known = this.all.get(j.id);
    if (known) {
      if (known.origin !== j.origin) return; // a node speaks only for its own tickets
      // a resend: ack again; with a result, its origin cancelled it before our ack came
      if (j.result?.state === 'cancelled') this.cancel(j.id);
      this.d.store.afterCommit(() => this.d.ack(j.origin, j.id));
      return;
    }
    const tz = j.spec.tz ?? DEFAULT_TZ;
    const now = this.now();
    const cancelled = j.result !== undefined;
    const s: ScheduleRecord = {
      id: j.id,
      spec: j.spec,
      origin: j.origin,
      submittedAt: j.submittedAt,
      tz,
      // counted from its acceptance at its node: a due time that passed before this proxy
      // heard of it (it was down, or away from the node) fires once, late, like any other
      nextDue: cancelled ? null : nextDue(j.spec.cron as string, tz, Math.min(now, j.submittedAt)),
      state: cancelled ? 'cancelled' : 'active',
      runs: [],
      cancelledAt: cancelled ? now : null,
    };
    this.all.set(s.id, s);
    this.d.store.insert(s, (err) => {
      // not stored: its origin's resend is taken as new
      if (err) this.all.delete(s.id);
      else this.d.ack(j.origin, j.id);
    });
    this.d.log.info({ schedule: s.id, cron: s.spec.cron, tz, next: s.nextDue }, 'schedule added');
    this.arm();
  }

  /**
   * The active schedules, the soonest to fire first (GET /api/schedules): at most `limit` of
   * them, each with its newest `runs` runs, and how many there are in all.
   */
  list(limit: number, runs = VIEW_RUNS): { schedules: JobView[]; total: number } {
    const active = [...this.all.values()].filter((s) => s.state === 'active');
    const due = (s: ScheduleRecord) => s.nextDue ?? Infinity;
    active.sort((a, b) => due(a) - due(b) || (a.id < b.id ? -1 : 1));
    const schedules = active.slice(0, limit).map((s) => this.viewOf(s, runs));
    return { schedules, total: active.length };
  }

  /** A client's view of a schedule; null when `id` is no schedule. */
  view(id: string): JobView | null {
    const s = this.all.get(id);
    return s ? this.viewOf(s, VIEW_RUNS) : null;
  }

  private viewOf(s: ScheduleRecord, runs: number): JobView {
    const skipped = this.skips.get(s.id);
    return {
      ticket: s.id,
      state: s.state === 'active' ? 'scheduled' : 'cancelled',
      ...(skipped === undefined ? {} : { skipped }),
      cron: s.spec.cron,
      tz: s.tz,
      next: s.nextDue,
      runs: s.runs
        .filter((ticket) => !this.issuing.has(ticket))
        .slice(0, runs)
        .map((ticket) => ({
          ticket,
          state: this.d.stateOf(ticket) ?? 'done',
        })),
      attempts: 0,
      submittedAt: s.submittedAt,
      finishedAt: s.cancelledAt,
      type: s.spec.type,
      args: s.spec.args,
    };
  }

  /** Stops a schedule; returns false when `id` is no schedule. Its origin hears it ended. */
  cancel(id: string, after?: () => void): boolean {
    const s = this.all.get(id);
    if (!s) return false;
    if (s.state === 'cancelled') {
      after?.();
      return true;
    }
    s.state = 'cancelled';
    s.nextDue = null;
    s.cancelledAt = this.now();
    this.d.store.cancel(s, (err) => {
      if (!err) this.tellOrigin(s);
      after?.();
    });
    this.d.log.info({ schedule: id }, 'schedule cancelled');
    this.arm();
    return true;
  }

  /** Runs `fn` once every schedule change made so far is durable (etcd in a group). */
  afterCommit(fn: () => void): void {
    this.d.store.afterCommit(fn);
  }

  /** An origin asks about its open tickets: the schedules among them that ended. */
  requested(from: string, ids: string[]): void {
    for (const id of ids) {
      const s = this.all.get(id);
      if (s?.state === 'cancelled' && s.origin === from) this.tellOrigin(s);
    }
  }

  private tellOrigin(s: ScheduleRecord): void {
    this.d.ended(s.origin, {
      id: s.id,
      state: 'cancelled',
      exitCode: null,
      output: '',
      error: 'schedule cancelled',
      node: null,
      attempt: 0,
      startedAt: null,
      finishedAt: s.cancelledAt ?? this.now(),
    });
  }

  /** Forgets schedules cancelled before `before`; returns how many. */
  expire(before: number): number {
    const gone: string[] = [];
    for (const s of this.all.values()) {
      if (s.state === 'cancelled' && (s.cancelledAt ?? 0) < before) gone.push(s.id);
    }
    for (const id of gone) {
      this.all.delete(id);
      this.skips.delete(id);
      this.skipping.delete(id);
    }
    this.d.store.expire(before, gone);
    return gone.length;
  }

  /**
   * Fires every schedule that is due now, then arms the timer for the next due time. A firing
   * is skipped while the schedule's previous run still waits to run (queued: no node can take
   * it, or none is free; scheduled: a retry's backoff; blocked), so runs that cannot be placed
   * do not pile up one per due time; a running one does not hold the next back. A skip is
   * counted (`skipped` in the view) and logged once per streak, and moves the due time in
   * memory only: after a restart the stored one fires, or is skipped, once, as a missed one.
   */
  fireDue(): void {
    const now = this.now();
    this.issueAgain();
    for (const s of this.all.values()) {
      if (s.state !== 'active') continue;
      const f = firingAt(s.spec.cron as string, s.tz, s.nextDue, now);
      if (!f) continue;
      const previous = s.runs[0];
      if (previous !== undefined && this.waitsToRun(previous)) {
        s.nextDue = f.next;
        this.skip(s, previous, f.dueAt);
        continue;
      }
      this.skipping.delete(s.id);
      this.counted.fired++;
      const ticket = newTicket(now);
      const run = { id: ticket, spec: runSpec(s.spec), origin: s.origin, submittedAt: now };
      s.nextDue = f.next;
      s.runs = [ticket, ...s.runs].slice(0, VIEW_RUNS);
      // the firing and its run become durable together: neither is ever fired twice
      this.issuing.add(ticket);
      this.d.store.fired(s, run, () => {
        this.issuing.delete(ticket);
        this.d.issue(run);
      });
      this.d.log.info(
        { schedule: s.id, run: ticket, due: new Date(f.dueAt).toISOString(), late: now - f.dueAt },
        'schedule fired',
      );
    }
    this.arm();
  }

  /** Whether a run waits to run, not started or between retries (one expired ended long ago). */
  private waitsToRun(ticket: string): boolean {
    if (this.issuing.has(ticket)) return true;
    const state = this.d.stateOf(ticket);
    return state === 'queued' || state === 'scheduled' || state === 'blocked';
  }

  private skip(s: ScheduleRecord, previous: string, dueAt: number): void {
    this.skips.set(s.id, (this.skips.get(s.id) ?? 0) + 1);
    this.counted.skipped++;
    if (this.skipping.has(s.id)) return;
    this.skipping.add(s.id);
    this.d.log.warn(
      { schedule: s.id, run: previous, due: new Date(dueAt).toISOString() },
      'schedule firing skipped: its previous run still waits to run (skipped again until it runs)',
    );
  }

  /** Issues again the runs an earlier leader fired that it may not have finished. */
  private issueAgain(): void {
    const runs = this.reissue;
    this.reissue = [];
    for (const run of runs) {
      if (this.d.stateOf(run.id) !== null) {
        this.d.store.runEnded(run.id); // it ended here, under an earlier term of this proxy
        continue;
      }
      this.d.issue(run);
      this.d.log.info({ run: run.id }, 'issued again a schedule run an earlier leader fired');
    }
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    let earliest = this.reissue.length > 0 ? this.now() : Infinity;
    for (const s of this.all.values()) {
      if (s.state === 'active' && s.nextDue !== null) earliest = Math.min(earliest, s.nextDue);
    }
    if (earliest === Infinity) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, earliest - this.now()));
    this.timer = setTimeout(() => this.fireDue(), delay);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}

/** What each firing runs: the schedule's spec without what makes it a schedule. */
export function runSpec(spec: JobSpec): JobSpec {
  const { cron: _cron, tz: _tz, ...run } = spec;
  return run;
}
