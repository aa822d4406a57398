import { isTerminal } from '../shared/job.js';
import { type JobView } from '../shared/job-view.js';
import { MAX_BATCH } from '../shared/protocol.js';
import type { OpenTicket } from './origin.js';
import type { ProxyLink } from './proxy-link.js';
import { clientState, pendingView, viewOfResult } from './results.js';
import type { TicketState, TicketStore } from './ticket-store.js';

export interface TicketListDeps {
  tickets: TicketStore;
  link: ProxyLink;
  /** The origin's open tickets. */
  open: Map<string, OpenTicket>;
  /** A ticket's view as this node knows it. */
  localView: (id: string) => JobView | null;
}

/** Listing the tickets issued here (LIST, GET /jobs). */
export class TicketList {
  constructor(private readonly d: TicketListDeps) {}

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
    const { tickets, link, open } = this.d;
    const shown = (r: { id: string; state: TicketState }) => ({
      id: r.id,
      state: clientState(r.state),
    });
    if (state === undefined) return tickets.recent(limit).map(shown);
    if (isTerminal(state)) return tickets.recentIn([state], limit);
    const rows = tickets.recentIn(['accepted', 'forwarded'], limit);
    const known = new Map<string, string>();
    const forwarded = (id: string, s: TicketState) =>
      s === 'forwarded' || open.get(id)?.state === 'forwarded';
    const asked = rows.filter((r) => forwarded(r.id, r.state)).map((r) => r.id);
    if (asked.length && link.ready) {
      const views = await link.request('lookup', asked.slice(0, MAX_BATCH)).catch(() => []);
      for (const v of views) known.set(v.ticket, v.state);
    }
    return rows
      .map((r) => ({
        id: r.id,
        state: known.get(r.id) ?? this.d.localView(r.id)?.state ?? clientState(r.state),
      }))
      .filter((r) => r.state === state);
  }

  /** Views of tickets issued here, newest first, in one query. */
  listViews(limit: number): JobView[] {
    return this.d.tickets
      .recentRows(limit)
      .map((row) =>
        row.result
          ? viewOfResult(row.id, row.spec, row.submittedAt, row.result)
          : pendingView(row.id, row.spec, row.submittedAt, row.state),
      );
  }
}
