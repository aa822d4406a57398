import { WireError } from '../shared/errors.js';
import { newTicket } from '../shared/ids.js';
import { CANCELLED_BY_CLIENT, isBuiltinType, isTerminal, type JobSpec } from '../shared/job.js';
import { runOfResult, type JobResult, type JobView } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import { specJson as specJsonText } from '../shared/wire-text.js';
import type { Executor } from './executor.js';
import { Claims, needsClaim } from './claims.js';
import { Forwarding } from './forwarding.js';
import type { RunOutcome } from './job-runner.js';
import { LocalFallback, runsWithoutProxy } from './local-fallback.js';
import { localView, type LocalViewSources } from './local-view.js';
import { OpenTickets } from './open-tickets.js';
import type { ProxyLink } from './proxy-link.js';
import { Reopen } from './reopen.js';
import { StartHere } from './start-here.js';
import { busyRefusal, diskFullError, storeFailure, submitRefusal } from './submit-checks.js';
import { cancelledBeforeRun, resultOf, viewOfResult } from './results.js';
import { TicketList } from './ticket-list.js';
import type { TicketStore } from './ticket-store.js';
import { askProxy, LINK_WAIT_MS, TicketWaits, waitRemote } from './ticket-waits.js';

/** The ticket a SUBMIT answers, and whether it is new (false: the key was known). */
export interface Submitted {
  ticket: string;
  created: boolean;
}

/** A ticket issued here that is not terminal yet. */
export interface OpenTicket {
  id: string;
  spec: JobSpec;
  submittedAt: number;
  state: 'accepted' | 'forwarded';
  /** Running here: under LOCAL_FALLBACK, or started here at once (`startedHere`). */
  local: boolean;
  /** Started here at once under LOCAL_START: the proxy is told of the placement. */
  startedHere?: boolean;
  /** The spec's JSON, made once for the ticket's row and its forwards (see `specJsonOf`). */
  specJson?: string;
}

export interface OriginOptions {
  nodeId: string;
  execAllow: readonly string[];
  /** LOCAL_FALLBACK: how long without the proxy before this node runs its own jobs. */
  localFallbackMs: number;
  /** CLAIM_WAIT: how long a SUBMIT with a key or `after` waits for the proxy. */
  claimWaitMs: number;
  /** The data directory, named when its disk is full. */
  dataDir?: string;
  /** Whether a custom type is known: the cluster's list, or a worker attached here. */
  customTypeKnown?: (type: string) => boolean;
  /** LOCAL_START: whether `spec` may start here at once (see local-start.ts). */
  startHere?: (spec: JobSpec) => boolean;
  /** MAX_OPEN_JOBS: a SUBMIT beyond this many open tickets is BUSY (`busyRefusal`). */
  maxOpen?: number;
  log: Logger;
}

/**
 * The origin role: the tickets this node issued to its clients. It commits each before
 * answering, forwards it to the proxy, wakes the clients waiting for its result, and, when the
 * proxy has been away for LOCAL_FALLBACK, runs its own tickets itself and reports them later.
 */
export class Origin {
  private readonly open = new OpenTickets();
  private readonly waits = new TicketWaits();
  /**
   * Results the proxy reported (durable there) whose commit here has not finished yet: long
   * while the disk is full. Clients read them from here meanwhile.
   */
  private readonly reportedPending = new Map<string, JobView>();
  /** Stops new submissions (the node is stopping). */
  closed = false;
  readonly counters = { submitted: 0, localRuns: 0, fallbacks: 0, startedHere: 0 };
  /** Told when a ticket issued here gets its final result (for the latency metrics). */
  onTicketFinished: (submittedAt: number, r: JobResult) => void = () => {};
  private readonly claims: Claims;
  private readonly reopening: Reopen;
  private readonly fallback: LocalFallback;
  /** Listing the tickets issued here (LIST, getall, GET /v1/jobs). */
  readonly listing: TicketList;
  private readonly forwarding: Forwarding;
  private readonly viewSources: LocalViewSources;
  /** Jobs started here at once (LOCAL_START): their placements, results and HELLO holds. */
  readonly here: StartHere;

  constructor(
    private readonly tickets: TicketStore,
    private readonly link: ProxyLink,
    private readonly executor: Executor,
    private readonly opts: OriginOptions,
  ) {
    // what the origin's concepts share: its open tickets, its store, link and counters
    const shared = {
      tickets,
      link,
      executor,
      open: this.open,
      counters: this.counters,
      log: opts.log,
      nodeId: opts.nodeId,
      localFallbackMs: opts.localFallbackMs,
      claimWaitMs: opts.claimWaitMs,
      closed: () => this.closed,
      results: (rs: JobResult[]) => this.results(rs),
      localView: (id: string) => this.localView(id),
    };
    this.claims = new Claims(shared);
    this.reopening = new Reopen(shared);
    this.fallback = new LocalFallback(shared);
    this.listing = new TicketList(shared);
    this.forwarding = new Forwarding(shared);
    this.here = new StartHere(shared);
    const { open, here, reportedPending } = this;
    this.viewSources = { open, here, reportedPending, tickets, nodeId: opts.nodeId };
  }

  /** Running its own tickets while the proxy is away (LOCAL_FALLBACK). */
  get fallbackActive(): boolean {
    return this.fallback.active;
  }

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

  /** Issues a ticket for `spec`; for a known key, the key's own (`created` false). */
  submitJob(spec: JobSpec): Promise<Submitted> {
    if (this.closed) {
      return Promise.reject(new WireError('UNAVAILABLE', 'this node is shutting down'));
    }
    if (this.tickets.diskFull) return Promise.reject(diskFullError(this.opts.dataDir));
    const refusal =
      submitRefusal(spec, (type) => this.typeKnown(type), this.opts.execAllow) ??
      busyRefusal(this.open.weight, this.opts.maxOpen);
    if (refusal) return Promise.reject(refusal);
    const submittedAt = Date.now();
    const id = newTicket(submittedAt);
    if (needsClaim(spec)) {
      return this.claims.submitClaimed(id, spec, submittedAt).then((ticket) => ({
        ticket,
        created: ticket === id,
      }));
    }
    const specJson = specJsonText(spec);
    const t: OpenTicket = { id, spec, submittedAt, state: 'accepted', local: false, specJson };
    this.open.set(id, t);
    // The job travels to the proxy (or starts here) while its ticket commits here: only the
    // ticket's reply must wait for the commit. Should the commit fail, the proxy runs a job
    // nobody holds a ticket for, and its result is acknowledged and dropped.
    const here = !this.fallback.active && this.link.ready && this.opts.startHere?.(spec) === true;
    const stored = new Promise<Submitted>((resolve, reject) => {
      const committed = (err?: Error) => {
        if (here && !err) this.here.placed(t);
        if (err) {
          this.open.delete(id);
          if (here) this.here.refused(id);
          return reject(storeFailure(err, this.opts.dataDir, this.opts.log));
        }
        this.counters.submitted++;
        const reply = () => resolve({ ticket: id, created: true });
        return here ? this.here.whenRoom(reply) : reply(); // see StartHere.whenRoom
      };
      this.tickets.insert(id, spec, submittedAt, committed, specJson);
    });
    // after the insert is queued: a job that ends at once (echo) queues its result behind it
    if (here) this.here.start(t);
    else if (this.fallback.active && runsWithoutProxy(spec)) this.fallback.runLocally(t);
    else this.forwarding.forward(t);
    return stored;
  }

  /** RETRY: the proxy runs a failed or cancelled job again; its view, now queued. */
  retry(id: string): Promise<JobView | null> {
    return this.reopening.retry(id);
  }

  /**
   * The proxy runs these tickets again (RETRY, from any node): they wait for a new result
   * here, and the proxy hears so once that is committed.
   */
  reopen(ids: string[]): void {
    this.reopening.reopen(ids);
  }

  /** Views of the tickets among `ids` that this node issued. */
  ownViews(ids: string[]): JobView[] {
    return ids.map((id) => this.localView(id)).filter((v): v is JobView => v !== null);
  }

  private localView(id: string): JobView | null {
    return localView(id, this.viewSources);
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
    const remote = await askProxy(this.link, 'lookup', id, deadline);
    return remote.find((v) => v.ticket === id) ?? null;
  }

  wait(id: string, ms: number, signal: AbortSignal): Promise<JobView | null | 'timeout'> {
    // its own open ticket (the usual WAIT): the promise goes out as it is, without a wrapper
    if (this.open.has(id) || this.here.hidden(id)) return this.waits.waitOwn(id, ms, signal);
    return this.waitEnded(id, ms, signal);
  }

  private async waitEnded(id: string, ms: number, signal: AbortSignal) {
    const deadline = Date.now() + ms;
    if (signal.aborted) return 'timeout'; // the client already left
    const local = this.localView(id); // ended here already (the usual WAIT after a quick job)
    if (local && isTerminal(local.state) && local.cron === undefined) return local;
    return waitRemote((d) => this.view(id, d), deadline, signal);
  }

  async cancel(id: string): Promise<JobView | null> {
    const o = this.open.get(id);
    if (o && o.state === 'accepted' && !o.local) {
      // not yet acknowledged by the proxy: decide here and tell the proxy when it acks
      const r = cancelledBeforeRun(id, Date.now(), o.spec);
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
    const views = await askProxy(this.link, 'cancel', id, Date.now() + LINK_WAIT_MS);
    return views.find((v) => v.ticket === id) ?? local;
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
    let view: JobView | undefined; // built only for a client that reads it
    const v = () => (view ??= viewOfResult(r.id, o.spec, o.submittedAt, r));
    const wake = () => this.waits.wake(r.id, v);
    // A result from the proxy is durable there (pushed until acked): clients hear it at once
    // and its commit here only lets this node ack it (lazily); one decided here waits for it.
    if (reported) {
      this.reportedPending.set(r.id, v());
      this.forwarding.noteDelivered(o, r);
      wake();
    }
    if (o.startedHere && !reported) return this.here.finish(o, r, wake, after);
    const committed = () => {
      this.reportedPending.delete(r.id);
      if (!reported) {
        wake();
        if (this.link.ready) this.forwarding.sendResult(o, r);
      }
      after?.();
    };
    this.tickets.finish(r, reported, committed, undefined, reported);
  }

  /** The proxy acknowledged forwarded tickets. */
  acked(ids: string[]): void {
    this.forwarding.acked(ids);
  }

  /** The proxy recorded results decided here (run here, or cancelled before it heard). */
  resultsAcked(ids: string[]): void {
    this.here.acked(ids);
    this.forwarding.resultsAcked(ids);
  }

  /** The proxy stops a run of this node's own ticket running here; false if none runs here. */
  cancelHere(id: string): boolean {
    if (!this.runsLocally(id)) return false;
    const now = Date.now();
    const out = {
      state: 'cancelled',
      exitCode: null,
      output: '',
      error: CANCELLED_BY_CLIENT,
    } as const;
    if (this.here.cancel(id)) this.finishedLocally(id, out, now, now);
    return true;
  }

  /** Results of tickets issued here, pushed or said `expired` by the proxy; acked once recorded. */
  results(results: JobResult[], expired: readonly string[] = []): void {
    const acks: string[] = [];
    let pending = 0;
    for (const r of expired.length ? [...results, ...this.forwarding.expired(expired)] : results) {
      if (this.claims.holdEarly(r)) continue;
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
    const r = resultOf(id, this.opts.nodeId, 1, o, startedAt, finishedAt);
    r.runs = [runOfResult(r)];
    this.finishTicket(r, false);
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
    return this.forwarding.waiting();
  }

  /**
   * Joined (again): leave fallback, send again everything the proxy has not acknowledged, or,
   * to a new leader of a proxy group (`all`), every open ticket.
   */
  rejoined(all = false): void {
    this.fallback.leave();
    this.forwarding.rejoined(all);
  }

  /** Sends again forwards not acknowledged for `periodMs` (a lost frame). */
  resendStale(now: number, periodMs: number): void {
    this.forwarding.resendStale(now, periodMs);
    this.here.resendStale(now, periodMs);
  }

  /** The proxy is away: after LOCAL_FALLBACK, this node runs its own tickets. */
  armFallback(): void {
    this.here.linkDown();
    this.fallback.arm();
  }

  /** Stops taking tickets and timers (the node is stopping). */
  close(): void {
    this.closed = true;
    this.fallback.close();
  }
}
