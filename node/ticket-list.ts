import { isTerminal } from '../shared/job.js';
import { type JobView } from '../shared/job-view.js';
import { MAX_BATCH } from '../shared/protocol.js';
import type { OpenTicket } from './origin.js';
import type { ProxyLink } from './proxy-link.js';
import { clientState, pendingView, viewOfResult } from './results.js';
import type { TicketRow, TicketState, TicketStore } from './ticket-store.js';

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
   * Tickets issued here, newest first; only those in `state` when given. A finished ticket's
   * state is in this node's file; an open ticket's is the proxy's (all of them asked in one
   * request), or what this node knows of it when the proxy cannot say, so a job is listed in
   * the state STATUS gives it, with or without a state asked for.
   */
  async list(
    limit: number,
    state?: JobView['state'],
  ): Promise<Array<{ id: string; state: string }>> {
    const { tickets } = this.d;
    if (state !== undefined && isTerminal(state)) return tickets.recentIn([state], limit);
    if (state !== undefined) {
      const views = await this.currentViews(limit, state);
      return views.map((v) => ({ id: v.ticket, state: v.state }));
    }
    const rows = tickets.recent(limit);
    const known = await this.openStates(rows);
    return rows.map((r) => ({ id: r.id, state: known.get(r.id) ?? clientState(r.state) }));
  }

  /** The client states of the open tickets among `rows`: the proxy's, else this node's view. */
  private async openStates(
    rows: ReadonlyArray<{ id: string; state: TicketState }>,
  ): Promise<Map<string, string>> {
    const { link, open } = this.d;
    const opened = rows.filter((r) => !isTerminal(r.state));
    const known = new Map<string, string>();
    const forwarded = (r: { id: string; state: TicketState }) =>
      r.state === 'forwarded' || open.get(r.id)?.state === 'forwarded';
    const asked = opened.filter(forwarded).map((r) => r.id);
    if (asked.length && link.ready) {
      const views = await link.request('lookup', asked.slice(0, MAX_BATCH)).catch(() => []);
      for (const v of views) known.set(v.ticket, v.state);
    }
    for (const r of opened) {
      const local = known.has(r.id) ? undefined : this.d.localView(r.id)?.state;
      if (local !== undefined) known.set(r.id, local);
    }
    return known;
  }

  /**
   * Views of tickets issued here, newest first, each as STATUS gives it: a finished one from
   * this node's file, an open one as the proxy tells it (all asked in one request), else as
   * this node knows it (a run started here, or the proxy away). With an open `state`, the
   * newest `limit` in it among every open ticket, not only among the newest tickets.
   */
  async currentViews(limit: number, state?: JobView['state']): Promise<JobView[]> {
    if (state === undefined) return this.viewsOf(this.d.tickets.recentRows(limit));
    const found: JobView[] = [];
    // Every open ticket is in memory (at most MAX_OPEN_JOBS), in the order they were issued,
    // so the sort finds them sorted; the file has no index of them (it would cost every job two
    // writes). A page is one lookup at the proxy.
    const ids = [...this.d.open.keys()].sort().reverse();
    for (let at = 0; at < ids.length; at += MAX_BATCH) {
      const rows = ids.slice(at, at + MAX_BATCH).map((id) => this.d.tickets.get(id));
      for (const v of await this.viewsOf(rows.filter((r): r is TicketRow => r !== undefined))) {
        if (v.state === state && found.push(v) === limit) return found;
      }
    }
    return found;
  }

  /** The views of `rows`, in their order, as `currentViews` gives them. */
  private async viewsOf(rows: readonly TicketRow[]): Promise<JobView[]> {
    const { link, open } = this.d;
    const asked = rows
      .filter(
        (r) => !r.result && (r.state === 'forwarded' || open.get(r.id)?.state === 'forwarded'),
      )
      .map((r) => r.id);
    const remote = new Map<string, JobView>();
    if (asked.length && link.ready) {
      const views = await link.request('lookup', asked.slice(0, MAX_BATCH)).catch(() => []);
      for (const v of views) remote.set(v.ticket, v);
    }
    return rows.map((row) => {
      if (row.result) return viewOfResult(row.id, row.spec, row.submittedAt, row.result);
      const local =
        this.d.localView(row.id) ?? pendingView(row.id, row.spec, row.submittedAt, row.state);
      const r = remote.get(row.id);
      // the proxy's view names the job as the origin's does (as STATUS shows it)
      return r ? { ...r, type: local.type, args: local.args } : local;
    });
  }

  /** Views of tickets issued here, newest first, in one query: the file's alone (getall). */
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
