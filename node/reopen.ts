import { WireError } from '../shared/errors.js';
import { type JobView } from '../shared/job-view.js';
import type { OpenTicket } from './origin.js';
import type { ProxyLink } from './proxy-link.js';
import type { TicketStore } from './ticket-store.js';
import { LINK_WAIT_MS } from './ticket-waits.js';

export interface ReopenDeps {
  link: ProxyLink;
  tickets: TicketStore;
  /** The origin's open tickets: a reopened ticket joins them again. */
  open: Map<string, OpenTicket>;
}

/** RETRY as the origin sees it: asking the proxy to run a job again, and reopening tickets. */
export class Reopen {
  constructor(private readonly d: ReopenDeps) {}

  /** RETRY: the proxy runs a failed or cancelled job again; its view, now queued. */
  async retry(id: string): Promise<JobView | null> {
    if (!(await this.d.link.whenReady(LINK_WAIT_MS))) {
      throw new WireError('UNAVAILABLE', 'the proxy is not reachable right now, try again');
    }
    const views = await this.d.link.request('retry', [id]);
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
      const row = this.d.open.has(id) ? undefined : this.d.tickets.get(id);
      if (!row) {
        done.push(id); // open already, or expired here: nothing to do
        continue;
      }
      this.d.open.set(id, {
        id,
        spec: row.spec,
        submittedAt: row.submittedAt,
        state: 'forwarded',
        local: false,
      });
      pending++;
      this.d.tickets.reopen(id, (err) => {
        if (!err) done.push(id);
        if (--pending === 0) this.d.link.send({ type: 'ACK', reopened: done });
      });
    }
    if (pending === 0) this.d.link.send({ type: 'ACK', reopened: done });
  }
}
