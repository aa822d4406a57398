import { isDiskFull } from '../shared/db.js';
import { WireError } from '../shared/errors.js';
import { newTicket } from '../shared/ids.js';
import { isBuiltinType, isTerminal, type JobSpec } from '../shared/job.js';
import { type JobResult, type JobView } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import { MAX_BATCH, type WireJob } from '../shared/protocol.js';
import type { Executor } from './executor.js';
import { CLAIM_WAIT_MS, claimTicket, needsClaim } from './claims.js';
import { execRefusal, type RunOutcome } from './job-runner.js';
import type { ProxyLink } from './proxy-link.js';
import { clientState, pendingView, resultOf, viewOfResult } from './results.js';
import type { TicketState } from './ticket-store.js';
import type { TicketStore } from './ticket-store.js';

/** How long RESULT, STATUS and CANCEL of another node's ticket wait for the proxy link. */
const LINK_WAIT_MS = 2000;

/** The ticket a SUBMIT answers, and whether it is new (false: the key was known). */
export interface Submitted {
  ticket: string;
  created: boolean;
}

/** A ticket issued here that is not terminal yet. */
interface OpenTicket {
  id: string;
  spec: JobSpec;
  submittedAt: number;
  state: 'accepted' | 'forwarded';
  /** Running here under LOCAL_FALLBACK. */
  local: boolean;
}

export interface OriginOptions {
  nodeId: string;
  execAllow: readonly string[];
  /** LOCAL_FALLBACK: how long without the proxy before this node runs its own jobs. */
  localFallbackMs: number;
  /** The data directory, named when its disk is full. */
  dataDir?: string;
  /** Whether a custom type is known: the cluster's list, or a worker attached here. */
  customTypeKnown?: (type: string) => boolean;
  log: Logger;
}

/**
 * The origin role: the tickets this node issued to its clients. It commits each before
 * answering, forwards it to the proxy, wakes the clients waiting for its result, and, when the
 * proxy has been away for LOCAL_FALLBACK, runs its own tickets itself and reports them later.
 */
export class Origin {
  private readonly open = new Map<string, OpenTicket>();
  private readonly waiters = new Map<string, Set<(v: JobView) => void>>();
  /**
   * Results the proxy reported (durable there) whose commit here has not finished yet: long
   * while the disk is full. Clients read them from here meanwhile.
   */
  private readonly reportedPending = new Map<string, JobView>();
  /** Claims waiting for the proxy's answer, with a result that came first (if one did). */
  private readonly claiming = new Map<string, JobResult | null>();
  private fallbackTimer: NodeJS.Timeout | undefined;
  fallbackActive = false;
  /** Stops new submissions (the node is stopping). */
  closed = false;
  readonly counters = { submitted: 0, localRuns: 0, fallbacks: 0 };
  /** Told when a ticket issued here gets its final result (for the latency metrics). */
  onTicketFinished: (submittedAt: number, r: JobResult) => void = () => {};

  constructor(
    private readonly tickets: TicketStore,
    private readonly link: ProxyLink,
    private readonly executor: Executor,
    private readonly opts: OriginOptions,
  ) {}

  /** Loads the tickets still open after a restart. */
  restore(): void {
    for (const t of this.tickets.open()) {
      if (t.state === 'accepted' || t.state === 'forwarded') {
        this.open.set(t.id, { ...t, state: t.state, local: false });
      }
    }
  }

  get openCount(): number {
    return this.open.size;
  }

  /** Whether `id` is one of this node's tickets running here under LOCAL_FALLBACK. */
  runsLocally(id: string): boolean {
    return this.open.get(id)?.local === true;
  }

  /** Whether a job of `type` can ever run: a built-in type, or one a worker has registered. */
  typeKnown(type: string): boolean {
    return isBuiltinType(type) || (this.opts.customTypeKnown?.(type) ?? false);
  }

  /** The refusal a client hears while this node's disk is full. */
  private diskFull(): WireError {
    return new WireError(
      'UNAVAILABLE',
      `the disk holding ${this.opts.dataDir ?? 'DATA_DIR'} is full: this node takes no new ` +
        'jobs until space is freed (tickets already issued still answer); try another node or later',
    );
  }

  /** Issues a ticket for `spec`: this node's new one, or, for a known key, the key's own. */
  async submit(spec: JobSpec): Promise<string> {
    return (await this.submitJob(spec)).ticket;
  }

  /** As `submit`, saying whether the ticket is new (false: an earlier job had this key). */
  submitJob(spec: JobSpec): Promise<Submitted> {
    if (this.closed) {
      return Promise.reject(new WireError('UNAVAILABLE', 'this node is shutting down'));
    }
    if (this.tickets.diskFull) return Promise.reject(this.diskFull());
    for (const run of spec.tasks ?? [spec]) {
      if (run.type !== undefined && !this.typeKnown(run.type)) {
        return Promise.reject(new WireError('BAD_REQUEST', `unknown job type ${run.type}`));
      }
      if (run.type === 'exec') {
        const why = execRefusal(run.args[0] ?? '', this.opts.execAllow);
        if (why) return Promise.reject(new WireError('FORBIDDEN', why));
      }
    }
    const submittedAt = Date.now();
    const id = newTicket(submittedAt);
    if (needsClaim(spec)) {
      return this.submitClaimed(id, spec, submittedAt).then((ticket) => ({
        ticket,
        created: ticket === id,
      }));
    }
    const t: OpenTicket = { id, spec, submittedAt, state: 'accepted', local: false };
    this.open.set(id, t);
    // The job travels to the proxy while its ticket commits here: only the ticket's reply
    // must wait for the commit. Should the commit fail, the proxy runs a job nobody holds a
    // ticket for, and its result is acknowledged and dropped.
    if (this.fallbackActive && runsWithoutProxy(spec)) this.runLocally(t);
    else this.link.forward(this.wireJob(t));
    return new Promise((resolve, reject) => {
      this.tickets.insert(id, spec, submittedAt, (err) => {
        if (err) {
          this.open.delete(id);
          if (isDiskFull(err)) return reject(this.diskFull());
          this.opts.log.error({ err }, 'could not commit a ticket');
          reject(new WireError('UNAVAILABLE', 'could not store the job, try again'));
          return;
        }
        this.counters.submitted++;
        resolve({ ticket: id, created: true });
      });
    });
  }

  /**
   * A job with a key or dependencies: the proxy decides its ticket. This node records it only
   * when the proxy committed this very ticket (its result comes here, as for any other).
   */
  private async submitClaimed(id: string, spec: JobSpec, submittedAt: number): Promise<string> {
    const job: WireJob = { id, spec, origin: this.opts.nodeId, submittedAt };
    this.claiming.set(id, null);
    let ticket: string;
    try {
      ticket = await claimTicket(this.link, job, Date.now() + CLAIM_WAIT_MS);
      if (ticket !== id) return ticket;
      this.open.set(id, { id, spec, submittedAt, state: 'forwarded', local: false });
      await new Promise<void>((resolve, reject) =>
        this.tickets.insertForwarded(id, spec, submittedAt, (err) => {
          if (!err) return resolve();
          this.opts.log.error({ err }, 'could not commit a ticket');
          reject(new WireError('UNAVAILABLE', 'could not store the job, try again'));
        }),
      );
    } finally {
      const early = this.claiming.get(id);
      this.claiming.delete(id);
      if (early) this.results([early]);
    }
    this.counters.submitted++;
    return id;
  }

  /** RETRY: the proxy runs a failed or cancelled job again; its view, now queued. */
  async retry(id: string): Promise<JobView | null> {
    if (!(await this.link.whenReady(LINK_WAIT_MS))) {
      throw new WireError('UNAVAILABLE', 'the proxy is not reachable right now, try again');
    }
    const views = await this.link.request('retry', [id]);
    return views.find((v) => v.ticket === id) ?? null;
  }

  /**
   * The proxy runs these tickets again (RETRY, from any node): they wait for a new result
   * here, and the proxy hears so once that is committed.
   */
  reopen(ids: string[]): void {
    const done: string[] = [];
    let pending = 0;
    for (const id of ids) {
      const row = this.open.has(id) ? undefined : this.tickets.get(id);
      if (!row) {
        done.push(id); // open already, or expired here: nothing to do
        continue;
      }
      this.open.set(id, {
        id,
        spec: row.spec,
        submittedAt: row.submittedAt,
        state: 'forwarded',
        local: false,
      });
      pending++;
      this.tickets.reopen(id, (err) => {
        if (!err) done.push(id);
        if (--pending === 0) this.link.send({ type: 'ACK', reopened: done });
      });
    }
    if (pending === 0) this.link.send({ type: 'ACK', reopened: done });
  }

  private wireJob(t: OpenTicket, result?: JobResult): WireJob {
    return { id: t.id, spec: t.spec, origin: this.opts.nodeId, submittedAt: t.submittedAt, result };
  }

  /** Views of the tickets among `ids` that this node issued. */
  ownViews(ids: string[]): JobView[] {
    return ids.map((id) => this.localView(id)).filter((v): v is JobView => v !== null);
  }

  private localView(id: string): JobView | null {
    const o = this.open.get(id);
    if (o) return pendingView(id, o.spec, o.submittedAt, 'accepted');
    const pending = this.reportedPending.get(id);
    if (pending) return pending;
    const row = this.tickets.get(id);
    if (!row) return null;
    if (row.result) return viewOfResult(id, row.spec, row.submittedAt, row.result);
    return pendingView(id, row.spec, row.submittedAt, row.state);
  }

  /**
   * Local tickets answer from here (asking the proxy whether an open one runs yet); another
   * node's ticket is asked of the proxy, waiting until `deadline` for the link if it is down.
   */
  async view(id: string, deadline = Date.now() + LINK_WAIT_MS): Promise<JobView | null> {
    const local = this.localView(id);
    // a schedule's runs and next firing are the proxy's to tell, even once it is cancelled
    const schedule = local?.cron !== undefined;
    if (local && isTerminal(local.state) && !schedule) return local;
    if (local) {
      const forwarded = schedule || this.open.get(id)?.state === 'forwarded';
      if (!forwarded || !this.link.ready) return local;
      const remote = await this.link.request('lookup', [id]).catch(() => []);
      const r = remote[0];
      return r && r.ticket === id ? { ...r, type: local.type, args: local.args } : local;
    }
    const remote = await this.ask('lookup', id, deadline);
    return remote.find((v) => v.ticket === id) ?? null;
  }

  /**
   * Asks the proxy about one ticket. A link that is down (the proxy restarting, this node
   * rejoining) is waited for until `deadline`, and a request lost with the link is asked
   * again, so a reconnect never reaches the client as an error.
   */
  private async ask(kind: 'lookup' | 'cancel', id: string, deadline: number): Promise<JobView[]> {
    for (;;) {
      if (!(await this.link.whenReady(deadline - Date.now()))) {
        throw new WireError('UNAVAILABLE', 'the proxy is not reachable right now, try again');
      }
      try {
        return await this.link.request(kind, [id], Math.max(1000, deadline - Date.now()));
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        // the link is going down: give it a moment to notice before waiting for it again
        await new Promise((r) => setTimeout(r, Math.min(50, deadline - Date.now())));
      }
    }
  }

  async wait(id: string, ms: number, signal: AbortSignal): Promise<JobView | null | 'timeout'> {
    const deadline = Date.now() + ms;
    if (signal.aborted) return 'timeout'; // the client already left
    if (this.open.has(id)) return this.waitOwn(id, ms, signal);
    // Another node's ticket: ask the proxy, backing off, until it ends or time runs out. The
    // link may come and go meanwhile; only a proxy never reached by the deadline is an error.
    let answered = false;
    let delay = 20;
    for (;;) {
      let v: JobView | null | undefined;
      try {
        v = await this.view(id, deadline);
      } catch (err) {
        if (answered || Date.now() < deadline) v = undefined;
        else throw err;
      }
      if (v === null && !answered) return null; // nobody knows this ticket
      if (v !== undefined) answered = true;
      if (v && isTerminal(v.state)) return v;
      const left = deadline - Date.now();
      if (left <= 0 || signal.aborted) return 'timeout';
      await new Promise((r) => setTimeout(r, Math.min(delay, left)));
      delay = Math.min(delay * 2, 500);
    }
  }

  /** This node's own ticket: its result is pushed here, no need to ask the proxy. */
  private waitOwn(id: string, ms: number, signal: AbortSignal): Promise<JobView | 'timeout'> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const done = (v: JobView | 'timeout') => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        set.delete(waiter);
        if (set.size === 0) this.waiters.delete(id);
        resolve(v);
      };
      const waiter = (v: JobView) => done(v);
      const onAbort = () => done('timeout');
      const timer = setTimeout(() => done('timeout'), ms);
      set.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async cancel(id: string): Promise<JobView | null> {
    const o = this.open.get(id);
    if (o && o.state === 'accepted' && !o.local) {
      // not yet acknowledged by the proxy: decide here and tell the proxy when it acks
      const r: JobResult = {
        id,
        state: 'cancelled',
        exitCode: null,
        output: '',
        error: 'cancelled by a client',
        node: null,
        attempt: 0,
        startedAt: null,
        finishedAt: Date.now(),
      };
      await new Promise<void>((resolve) => this.finishTicket(r, false, resolve));
      return this.localView(id);
    }
    if (o?.local) {
      // running here under LOCAL_FALLBACK: stopping it ends it as cancelled, committed here
      const ended = this.wait(id, 5000, new AbortController().signal);
      this.executor.cancel(id);
      const v = await ended;
      return v && v !== 'timeout' ? v : { ...(this.localView(id) as JobView), state: 'running' };
    }
    const local = this.localView(id);
    if (local && isTerminal(local.state)) return local;
    const views = await this.ask('cancel', id, Date.now() + LINK_WAIT_MS);
    return views.find((v) => v.ticket === id) ?? local;
  }

  /**
   * Tickets issued here, newest first; only those in `state` when given. Without a state this
   * reads only this node's file (an open ticket shows as queued); asked for an open state
   * (scheduled, blocked, queued, running), the open tickets' states are the proxy's, asked in
   * one request.
   */
  async list(
    limit: number,
    state?: JobView['state'],
  ): Promise<Array<{ id: string; state: string }>> {
    const shown = (r: { id: string; state: TicketState }) => ({
      id: r.id,
      state: clientState(r.state),
    });
    if (state === undefined) return this.tickets.recent(limit).map(shown);
    if (isTerminal(state)) return this.tickets.recentIn([state], limit);
    const rows = this.tickets.recentIn(['accepted', 'forwarded'], limit);
    const known = new Map<string, string>();
    const forwarded = (id: string, s: TicketState) =>
      s === 'forwarded' || this.open.get(id)?.state === 'forwarded';
    const asked = rows.filter((r) => forwarded(r.id, r.state)).map((r) => r.id);
    if (asked.length && this.link.ready) {
      const views = await this.link.request('lookup', asked.slice(0, MAX_BATCH)).catch(() => []);
      for (const v of views) known.set(v.ticket, v.state);
    }
    return rows
      .map((r) => ({
        id: r.id,
        state: known.get(r.id) ?? this.localView(r.id)?.state ?? clientState(r.state),
      }))
      .filter((r) => r.state === state);
  }

  /** Views of tickets issued here, newest first, in one query. */
  listViews(limit: number): JobView[] {
    return this.tickets
      .recentRows(limit)
      .map((row) =>
        row.result
          ? viewOfResult(row.id, row.spec, row.submittedAt, row.result)
          : pendingView(row.id, row.spec, row.submittedAt, row.state),
      );
  }

  /** Records a ticket's terminal result, wakes its waiters, then calls `after`. */
  private finishTicket(r: JobResult, reported: boolean, after?: () => void): void {
    const o = this.open.get(r.id);
    if (!o) {
      after?.();
      return;
    }
    this.open.delete(r.id);
    this.onTicketFinished(o.submittedAt, r);
    const v = viewOfResult(r.id, o.spec, o.submittedAt, r);
    const wake = () => {
      const set = this.waiters.get(r.id);
      if (!set) return;
      for (const w of [...set]) w(v);
    };
    // A result from the proxy is already durable there (it pushes it again until this node
    // acks), so waiting clients hear it at once; one decided here is told only once committed.
    if (reported) {
      this.reportedPending.set(r.id, v);
      wake();
    }
    this.tickets.finish(r, reported, () => {
      this.reportedPending.delete(r.id);
      if (!reported) {
        wake();
        if (this.link.ready) this.link.forward(this.wireJob(o, r));
      }
      after?.();
    });
  }

  /** The proxy acknowledged forwarded tickets (or results decided here). */
  acked(ids: string[]): void {
    const forwarded: string[] = [];
    const reported: string[] = [];
    for (const id of ids) {
      const o = this.open.get(id);
      if (o && o.state === 'accepted') {
        o.state = 'forwarded';
        forwarded.push(id);
      } else if (!o) reported.push(id);
    }
    if (forwarded.length) this.tickets.markForwarded(forwarded);
    if (reported.length) this.tickets.markReported(reported);
  }

  /** Final results for tickets issued here, pushed by the proxy; acked once recorded. */
  results(results: JobResult[]): void {
    const acks: string[] = [];
    let pending = 0;
    for (const r of results) {
      if (this.claiming.has(r.id)) {
        // the job ended before its claim's answer was handled: recorded once its ticket is
        this.claiming.set(r.id, r);
        continue;
      }
      if (!this.open.has(r.id)) {
        acks.push(r.id); // already recorded, or expired: acknowledging is harmless
        continue;
      }
      pending++;
      this.finishTicket(r, true, () => {
        acks.push(r.id);
        if (--pending === 0) this.link.ackResults(acks);
      });
    }
    if (pending === 0 && acks.length) this.link.ackResults(acks);
  }

  /** A ticket run here under LOCAL_FALLBACK finished. */
  finishedLocally(id: string, o: RunOutcome, startedAt: number, finishedAt: number): void {
    this.finishTicket(resultOf(id, this.opts.nodeId, 1, o, startedAt, finishedAt), false);
  }

  /**
   * A ticket run here under LOCAL_FALLBACK lost its worker: another worker of its type here
   * takes it; without one it waits, accepted, for the proxy to place it (it is forwarded when
   * the link returns).
   */
  lostLocally(id: string): void {
    const t = this.open.get(id);
    if (!t) return;
    if (this.executor.accepts(t.spec)) return this.executor.enqueue(id, t.spec);
    t.local = false;
  }

  /** Forwarded tickets still waiting for a result (the sweep asks the proxy for them). */
  waiting(): string[] {
    const ids: string[] = [];
    for (const t of this.open.values()) {
      if (t.state === 'forwarded') ids.push(t.id);
      if (ids.length >= MAX_BATCH) break;
    }
    return ids;
  }

  /**
   * Joined (again): leave fallback, send again everything the proxy has not acknowledged, or,
   * to a new leader of a proxy group (`all`), every open ticket.
   */
  rejoined(all = false): void {
    clearTimeout(this.fallbackTimer);
    if (this.fallbackActive) {
      this.fallbackActive = false;
      this.opts.log.info('the proxy is back: leaving local fallback');
    }
    // handlers on the proxy are idempotent, so a copy it already has is harmless
    for (const t of this.open.values()) {
      if ((all || t.state === 'accepted') && !t.local) this.link.forward(this.wireJob(t));
    }
    for (const row of this.tickets.unreported()) {
      if (row.result) {
        this.link.forward({
          id: row.id,
          spec: row.spec,
          origin: this.opts.nodeId,
          submittedAt: row.submittedAt,
          result: row.result,
        });
      }
    }
  }

  /** Sends again forwards not acknowledged for `periodMs` (a lost frame). */
  resendStale(now: number, periodMs: number): void {
    for (const t of this.open.values()) {
      if (t.state === 'accepted' && !t.local && now - t.submittedAt > periodMs) {
        this.link.forward(this.wireJob(t));
      }
    }
  }

  /** The proxy is away: after LOCAL_FALLBACK, this node runs its own tickets. */
  armFallback(): void {
    clearTimeout(this.fallbackTimer);
    if (this.opts.localFallbackMs <= 0 || this.link.ready) return;
    this.fallbackTimer = setTimeout(() => this.enterFallback(), this.opts.localFallbackMs);
    this.fallbackTimer.unref();
  }

  private enterFallback(): void {
    if (this.link.ready || this.closed) return;
    this.fallbackActive = true;
    this.counters.fallbacks++;
    let n = 0;
    for (const t of this.open.values()) {
      if (t.state === 'accepted' && !t.local && runsWithoutProxy(t.spec)) {
        this.runLocally(t);
        n++;
      }
    }
    this.opts.log.warn(
      { jobs: n },
      'no proxy for LOCAL_FALLBACK: running this node’s own jobs here',
    );
  }

  private runLocally(t: OpenTicket): void {
    // a schedule lives on the proxy: it waits here, accepted, until the proxy is back
    if (t.spec.cron !== undefined) return;
    // a job of many tasks needs the proxy to spread them: it waits for it (and is forwarded
    // when the link returns)
    if (t.spec.tasks) return;
    // a custom type no worker here serves waits for the proxy to place it where one does
    if (!this.executor.accepts(t.spec)) return;
    t.local = true;
    this.counters.localRuns++;
    this.executor.enqueue(t.id, t.spec);
  }

  /** Stops taking tickets and timers (the node is stopping). */
  close(): void {
    this.closed = true;
    clearTimeout(this.fallbackTimer);
  }
}

/** Whether LOCAL_FALLBACK may run a job here: not one that waits for a time. */
function runsWithoutProxy(spec: JobSpec): boolean {
  return spec.delayMs === undefined && spec.runAt === undefined;
}
