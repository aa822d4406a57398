import { WireError } from '../shared/errors.js';
import type { JobSpec } from '../shared/job.js';
import type { WireJob } from '../shared/protocol.js';
import type { ProxyLink } from './proxy-link.js';

/**
 * How long a SUBMIT with a `key` or `after` waits for the proxy (which alone decides them)
 * before ERR UNAVAILABLE. A claim lost with the link is sent again under the same ticket,
 * which the proxy answers the same way, so a proxy restart within this time is invisible.
 */
export const CLAIM_WAIT_MS = 10_000;

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
