import { WireError } from '../shared/errors.js';
import type { JobSpec } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import type { WireJob } from '../shared/protocol.js';
import type { OpenTicket } from './origin.js';
import type { ProxyLink } from './proxy-link.js';
import type { TicketStore } from './ticket-store.js';

/** Whether a spec must be claimed from the proxy rather than accepted here. */
export function needsClaim(spec: JobSpec): boolean {
  return spec.key !== undefined || spec.after !== undefined;
}

/**
 * Asks the proxy which ticket a keyed or dependent job gets: the key's existing ticket, or
 * `job.id` once the proxy committed it. A refusal (an unknown ticket in `after`) is thrown as
 * the proxy worded it.
 */
export async function claimTicket(
  link: ProxyLink,
  job: WireJob,
  deadline: number,
): Promise<string> {
  for (;;) {
    const left = deadline - Date.now();
    if (!(await link.whenReady(left))) {
      throw new WireError(
        'UNAVAILABLE',
        'the proxy is not reachable, and a job with a key or after needs it; try again',
      );
    }
    try {
      const views = await link.claim(job, Math.max(1000, deadline - Date.now()));
      const ticket = views[0]?.ticket;
      if (ticket) return ticket;
      throw new WireError('UNAVAILABLE', 'the proxy gave no ticket, try again');
    } catch (err) {
      const lostLink = err instanceof WireError && err.code === 'UNAVAILABLE';
      if (!lostLink || Date.now() >= deadline) throw err;
      // the link is going down: give it a moment to notice before waiting for it again
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, deadline - Date.now()))));
    }
  }
}

export interface ClaimsDeps {
  link: ProxyLink;
  tickets: TicketStore;
  /** The origin's open tickets: a claimed ticket joins them once the proxy committed it. */
  open: Map<string, OpenTicket>;
  nodeId: string;
  /**
   * CLAIM_WAIT: how long a SUBMIT with a `key` or `after` waits for the proxy (which alone
   * decides them) before ERR UNAVAILABLE. A claim lost with the link is sent again under the
   * same ticket, which the proxy answers the same way, so a proxy restart within this time is
   * invisible.
   */
  claimWaitMs: number;
  log: Logger;
  counters: { submitted: number };
  /** Records results for tickets issued here (one that came before its claim's answer). */
  results: (results: JobResult[]) => void;
}

/** The claim path of the origin: SUBMIT of a job with a key or dependencies. */
export class Claims {
  /** Claims waiting for the proxy's answer, with a result that came first (if one did). */
  private readonly claiming = new Map<string, JobResult | null>();

  constructor(private readonly d: ClaimsDeps) {}

  /**
   * A job with a key or dependencies: the proxy decides its ticket. This node records it only
   * when the proxy committed this very ticket (its result comes here, as for any other).
   */
  async submitClaimed(id: string, spec: JobSpec, submittedAt: number): Promise<string> {
    const job: WireJob = { id, spec, origin: this.d.nodeId, submittedAt };
    this.claiming.set(id, null);
    let ticket: string;
    try {
      ticket = await claimTicket(this.d.link, job, Date.now() + this.d.claimWaitMs);
      if (ticket !== id) return ticket;
      this.d.open.set(id, { id, spec, submittedAt, state: 'forwarded', local: false });
      await new Promise<void>((resolve, reject) =>
        this.d.tickets.insertForwarded(id, spec, submittedAt, (err) => {
          if (!err) return resolve();
          this.d.log.error({ err }, 'could not commit a ticket');
          reject(new WireError('UNAVAILABLE', 'could not store the job, try again'));
        }),
      );
    } finally {
      const early = this.claiming.get(id);
      this.claiming.delete(id);
      if (early) this.d.results([early]);
    }
    this.d.counters.submitted++;
    return id;
  }

  /** Keeps a result whose ticket's claim is not answered yet; false when none is waiting. */
  holdEarly(r: JobResult): boolean {
    if (!this.claiming.has(r.id)) return false;
    // the job ended before its claim's answer was handled: recorded once its ticket is
    this.claiming.set(r.id, r);
    return true;
  }
}
