import { resultJson as resultJsonOf, runOfResult, type JobResult } from '../shared/job-view.js';
import type { FrameOf } from '../shared/protocol.js';
import type { Executor } from './executor.js';
import { specJsonOf } from './forwarding.js';
import { HereResults, type Reporting } from './local-start.js';
import type { OpenTicket } from './origin.js';
import type { ProxyLink } from './proxy-link.js';
import type { TicketStore } from './ticket-store.js';

export interface StartHereDeps {
  tickets: TicketStore;
  link: ProxyLink;
  executor: Executor;
  /** The origin's open tickets. */
  open: Map<string, OpenTicket>;
  nodeId: string;
  counters: { startedHere: number };
}

/**
 * LOCAL_START at the origin (see local-start.ts): a job started here runs in this node's
 * executor; the proxy hears of the placement once the ticket is on disk, and of the result as
 * soon as the run ends (sent again until it acknowledges it, in `ACK.results`). A HELLO lists
 * both kinds, so a reconnect never makes the proxy run such a job again.
 */
export class StartHere {
  private readonly results = new HereResults();

  constructor(private readonly d: StartHereDeps) {}

  /** The job runs here now, while its ticket commits. */
  start(t: OpenTicket): void {
    t.local = true;
    t.startedHere = true;
    this.d.counters.startedHere++;
    this.d.executor.enqueue(t.id, t.spec);
  }

  /**
   * The ticket is on disk: the proxy records where the job runs, so it counts in this node's
   * load and runs again elsewhere should this node die. One that already ended is told with
   * its result instead.
   */
  placed(t: OpenTicket): void {
    if (this.d.open.get(t.id) !== t || !this.d.link.ready) return; // the HELLO tells it
    this.d.link.forwardOwn(t, specJsonOf(t), { startedHere: true });
  }

  /** Runs `reply` (a ticket of a run started here) once the proxy is not too far behind. */
  whenRoom(reply: () => void): void {
    this.results.whenRoom(reply, this.d.link.ready);
  }

  /** The ticket could not be stored: the run stops, unreported. */
  refused(id: string): void {
    this.d.executor.cancel(id, true);
  }

  /**
   * The run ended: its result goes to the proxy at once and commits here meanwhile; clients
   * see it once it is on disk here (`HereResults`), then `after` runs.
   */
  finish(o: OpenTicket, r: JobResult, reveal: () => void, after?: () => void): void {
    const result = r.runs ? r : { ...r, runs: [runOfResult(r)] };
    // encoded once, for the proxy's frame and this node's row
    const resultJson = resultJsonOf(result);
    const { spec, submittedAt } = o;
    const specJson = specJsonOf(o);
    this.results.finished(r.id, { result, resultJson, spec, specJson, submittedAt, reveal });
    this.send(r.id, Date.now());
    const committed = () => {
      this.results.committed(r.id);
      after?.();
    };
    this.d.tickets.finish(result, false, committed, resultJson);
  }

  private send(id: string, now: number): void {
    const p = this.results.get(id);
    if (!p || p.acked || !this.d.link.ready) return;
    p.sentAt = now;
    this.d.link.forwardOwn({ id, submittedAt: p.submittedAt }, p.specJson, {
      result: p.resultJson,
    });
  }

  /** The proxy recorded these results: shown to clients if not yet; the rows say reported. */
  acked(ids: string[]): void {
    const reported = ids.filter((id) => this.results.acked(id));
    if (reported.length) this.d.tickets.markReported(reported);
  }

  /** Whether results of runs started here wait for the proxy to record them. */
  unacked(): boolean {
    return !this.results.unrecorded().next().done;
  }

  /** A result of a run started here that clients may not see yet. */
  hidden(id: string): Reporting | undefined {
    return this.results.hidden(id);
  }

  /** Whether `id` was started here and the proxy has not recorded its result yet. */
  unreported(id: string): boolean {
    return this.results.unrecordedHas(id) || this.d.open.get(id)?.startedHere === true;
  }

  /** The link went down: tickets held back for the proxy go at once. */
  linkDown(): void {
    this.results.linkDown();
  }

  /** Runs started here, for the HELLO of a (re)join: running, or ended but not recorded. */
  holds(): FrameOf<'HELLO'>['holds'] {
    const holds: FrameOf<'HELLO'>['holds'] = [];
    const origin = this.d.nodeId;
    for (const t of this.d.open.values()) {
      if (!t.startedHere || !t.local) continue;
      const job = { spec: t.spec, origin, submittedAt: t.submittedAt };
      holds.push({ id: t.id, state: 'running', attempt: 1, job });
    }
    for (const [id, r] of this.results.unrecorded()) {
      const job = { spec: r.spec, origin, submittedAt: r.submittedAt };
      holds.push({ id, state: 'finished', attempt: 1, job });
    }
    return holds;
  }

  /** The proxy stops a run started here (CANCEL from another node); true if it never ran. */
  cancel(id: string): boolean {
    return this.d.executor.cancel(id) === 'queued';
  }

  /** Sends again placements and results the proxy has not acknowledged for `periodMs`. */
  resendStale(now: number, periodMs: number): void {
    for (const t of this.d.open.values()) {
      if (t.startedHere && t.state === 'accepted' && now - t.submittedAt > periodMs) this.placed(t);
    }
    for (const [id, r] of this.results.unrecorded()) {
      if (r.committed && now - r.sentAt > periodMs) this.send(id, now);
    }
  }
}
