import { type JobResult } from '../shared/job-view.js';
import { MAX_BATCH, type WireJob } from '../shared/protocol.js';
import type { OpenTicket } from './origin.js';
import type { ProxyLink } from './proxy-link.js';
import { RECENT_RESULTS_MAX, RECENT_RESULTS_MS, RecentResults } from './recent-results.js';
import { expiredUnread } from './results.js';
import type { TicketStore } from './ticket-store.js';

export interface ForwardingDeps {
  tickets: TicketStore;
  link: ProxyLink;
  /** The origin's open tickets. */
  open: Map<string, OpenTicket>;
  nodeId: string;
}

/** The JSON of a ticket's spec, made once (a ticket restored from the file has none yet). */
export function specJsonOf(t: OpenTicket): string {
  return (t.specJson ??= JSON.stringify(t.spec));
}

/**
 * The origin's forwards to the proxy: each ticket (and each result decided here) is sent
 * until the proxy acknowledges it.
 */
export class Forwarding {
  /** Results decided here and sent, until the proxy records them (`ACK.results`). */
  private readonly sentResults = new Set<string>();
  /** Results the proxy pushed lately, told to a new leader (see `RecentResults`). */
  private readonly delivered = new RecentResults();

  constructor(private readonly d: ForwardingDeps) {
    // a restart keeps them too: the newest tickets of the file that ended within the window
    const since = Date.now() - RECENT_RESULTS_MS;
    const rows = d.tickets.recentRows(RECENT_RESULTS_MAX); // newest first
    for (let i = rows.length - 1; i >= 0; i--) {
      const { id, spec, submittedAt, result } = rows[i] as (typeof rows)[number];
      if (result && result.finishedAt >= since) {
        this.delivered.add({ id, spec, submittedAt, result, at: result.finishedAt });
      }
    }
  }

  /** Sends a result decided here (a run here, a cancel before the proxy heard of the job). */
  sendResult(t: OpenTicket, r: JobResult): void {
    this.sentResults.add(t.id);
    this.d.link.forward(this.wireJob(t, r));
  }

  wireJob(t: OpenTicket, result?: JobResult): WireJob {
    return { id: t.id, spec: t.spec, origin: this.d.nodeId, submittedAt: t.submittedAt, result };
  }

  /** A result the proxy pushed ended `t` here. */
  noteDelivered(t: OpenTicket, r: JobResult, now = Date.now()): void {
    this.delivered.add({ id: t.id, spec: t.spec, submittedAt: t.submittedAt, result: r, at: now });
  }

  /** Sends a ticket to the proxy, its spec's JSON made once (`specJsonOf`). */
  forward(t: OpenTicket): void {
    this.d.link.forwardOwn(t, specJsonOf(t));
  }

  /** The proxy acknowledged forwarded tickets. */
  acked(ids: string[]): void {
    const forwarded: string[] = [];
    for (const id of ids) {
      const o = this.d.open.get(id);
      if (o && o.state === 'accepted') {
        o.state = 'forwarded';
        forwarded.push(id);
      }
    }
    if (forwarded.length) this.d.tickets.markForwarded(forwarded);
  }

  /**
   * The proxy recorded results decided here (acked in `ACK.results`, so an ack of the job's
   * earlier forward is never taken for one): the rows need not go again.
   */
  resultsAcked(ids: string[]): void {
    const reported = ids.filter((id) => this.sentResults.delete(id));
    if (reported.length) this.d.tickets.markReported(reported);
  }

  /** Forwarded tickets still waiting for a result (the sweep asks the proxy for them). */
  waiting(limit = MAX_BATCH): string[] {
    const ids: string[] = [];
    for (const t of this.d.open.values()) {
      if (t.state === 'forwarded') ids.push(t.id);
      if (ids.length >= limit) break;
    }
    return ids;
  }

  /**
   * The ends of the tickets among `ids` that the proxy says it no longer holds: their results
   * expired there while this node was away. Only a ticket waiting for the proxy's result ends
   * so; one this node runs itself (LOCAL_FALLBACK, LOCAL_START) ends with its own run.
   */
  expired(ids: readonly string[], now = Date.now()): JobResult[] {
    const ends: JobResult[] = [];
    for (const id of ids) {
      const t = this.d.open.get(id);
      if (t?.state === 'forwarded' && !t.local && !t.startedHere) ends.push(expiredUnread(id, now));
    }
    return ends;
  }

  /**
   * Sends again everything the proxy has not acknowledged, or, to a new leader of a proxy
   * group or a proxy on a restored or new file (`all`), every open ticket.
   */
  rejoined(all: boolean): void {
    const waiting = this.waiting(Infinity);
    if (all) this.unacknowledge();
    // handlers on the proxy are idempotent, so a copy it already has is harmless
    for (const t of this.d.open.values()) {
      if ((all || t.state === 'accepted') && !t.local) this.forward(t);
    }
    // results the proxy before it pushed lately: its clients may have seen them already
    if (all) {
      for (const e of this.delivered.since(Date.now())) {
        const { id, spec, submittedAt, result } = e;
        this.d.link.forward({ id, spec, origin: this.d.nodeId, submittedAt, result });
      }
    }
    for (const row of this.d.tickets.unreported()) {
      if (row.result) {
        this.sentResults.add(row.id);
        this.d.link.forward({
          id: row.id,
          spec: row.spec,
          origin: this.d.nodeId,
          submittedAt: row.submittedAt,
          result: row.result,
        });
      }
    }
    // Tickets waiting for a result ask for it: a result decided here reaches the proxy before
    // this node's own commit of it (LOCAL_START), so a crash between the two leaves the proxy
    // holding it as delivered, and only this question brings it back. The forwards go first:
    // a new leader must know a ticket before it is asked, or it takes the ticket for expired.
    this.d.link.flush();
    for (let i = 0; i < waiting.length; i += MAX_BATCH) {
      this.d.link.send({ type: 'RES_REQ', requests: waiting.slice(i, i + MAX_BATCH) });
    }
  }

  /**
   * A proxy that may lack what it acknowledged: the tickets it was told of wait for its
   * acknowledgement again, resent until it comes, and so on disk, in the commit that keeps the
   * proxy's epoch or incarnation (`storeProxySeen`). A crash before this proxy records them
   * then sends them again at the next start, instead of asking it for results it never had
   * (which ends them as expired). A ticket run here keeps its own path (`StartHere`).
   */
  private unacknowledge(): void {
    const ids: string[] = [];
    for (const t of this.d.open.values()) {
      if (t.state === 'forwarded' && !t.local && !t.startedHere) {
        t.state = 'accepted';
        ids.push(t.id);
      }
    }
    if (ids.length) this.d.tickets.markAccepted(ids);
  }

  /** Sends again forwards not acknowledged for `periodMs` (a lost frame). */
  resendStale(now: number, periodMs: number): void {
    this.delivered.forget(now); // past their window, whether more come or not
    for (const t of this.d.open.values()) {
      if (t.state === 'accepted' && !t.local && now - t.submittedAt > periodMs) {
        this.forward(t);
      }
    }
  }
}
