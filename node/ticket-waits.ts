import { WireError } from '../shared/errors.js';
import { isTerminal } from '../shared/job.js';
import { type JobView } from '../shared/job-view.js';
import type { ProxyLink } from './proxy-link.js';

/** How long RESULT, STATUS and CANCEL of another node's ticket wait for the proxy link. */
export const LINK_WAIT_MS = 2000;

/**
 * Asks the proxy about one ticket. A link that is down (the proxy restarting, this node
 * rejoining) is waited for until `deadline`, and a request lost with the link is asked
 * again, so a reconnect never reaches the client as an error.
 */
export async function askProxy(
  link: ProxyLink,
  kind: 'lookup' | 'cancel',
  id: string,
  deadline: number,
): Promise<JobView[]> {
  for (;;) {
    if (!(await link.whenReady(deadline - Date.now()))) {
      throw new WireError('UNAVAILABLE', 'the proxy is not reachable right now, try again');
    }
    try {
      return await link.request(kind, [id], Math.max(1000, deadline - Date.now()));
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      // the link is going down: give it a moment to notice before waiting for it again
      await new Promise((r) => setTimeout(r, Math.min(50, deadline - Date.now())));
    }
  }
}

/**
 * Another node's ticket: ask the proxy, backing off, until it ends or time runs out. The
 * link may come and go meanwhile; only a proxy never reached by the deadline is an error.
 */
export async function waitRemote(
  view: (deadline: number) => Promise<JobView | null>,
  deadline: number,
  signal: AbortSignal,
): Promise<JobView | null | 'timeout'> {
  let answered = false;
  let delay = 20;
  for (;;) {
    let v: JobView | null | undefined;
    try {
      v = await view(deadline);
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

/** Clients waiting for the result of a ticket issued here (it is pushed here when it ends). */
export class TicketWaits {
  private readonly waiters = new Map<string, Set<(v: JobView) => void>>();

  /** This node's own ticket: its result is pushed here, no need to ask the proxy. */
  waitOwn(id: string, ms: number, signal: AbortSignal): Promise<JobView | 'timeout'> {
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

  /** Tells the clients waiting for `id` its final view (made only when someone waits). */
  wake(id: string, view: () => JobView): void {
    const set = this.waiters.get(id);
    if (!set) return;
    const v = view();
    for (const w of [...set]) w(v);
  }
}
