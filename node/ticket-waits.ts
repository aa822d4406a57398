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

/** A client waiting for the result of a ticket issued here. */
interface Waiter {
  readonly id: string;
  readonly resolve: (v: JobView | 'timeout') => void;
  /** The waits of the waiter's connection (see `TicketWaits.ofSignal`). */
  readonly group: Set<Waiter>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Clients waiting for the result of a ticket issued here (it is pushed here when it ends).
 * Every job's WAIT passes here, so a wait costs one object and one timer: a connection's
 * waits share one listener on its signal, which ends them all when the client goes away.
 */
export class TicketWaits {
  /** The waiters of each ticket: one, or, rarely, several. */
  private readonly waiters = new Map<string, Waiter | Waiter[]>();
  private readonly groups = new WeakMap<AbortSignal, Set<Waiter>>();

  /** This node's own ticket: its result is pushed here, no need to ask the proxy. */
  waitOwn(id: string, ms: number, signal: AbortSignal): Promise<JobView | 'timeout'> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve('timeout'); // the client already left
      const w: Waiter = { id, resolve, group: this.ofSignal(signal), timer: undefined };
      w.timer = setTimeout(() => this.end(w, 'timeout'), ms);
      w.group.add(w);
      const had = this.waiters.get(id);
      if (had === undefined) this.waiters.set(id, w);
      else if (Array.isArray(had)) had.push(w);
      else this.waiters.set(id, [had, w]);
    });
  }

  /** Tells the clients waiting for `id` its final view (made only when someone waits). */
  wake(id: string, view: () => JobView): void {
    const had = this.waiters.get(id);
    if (had === undefined) return;
    const v = view();
    if (!Array.isArray(had)) return this.end(had, v);
    for (const w of [...had]) this.end(w, v);
  }

  /** The waits of the connection that `signal` belongs to, ended when it aborts. */
  private ofSignal(signal: AbortSignal): Set<Waiter> {
    let group = this.groups.get(signal);
    if (group === undefined) {
      const waits = (group = new Set());
      this.groups.set(signal, waits);
      const onAbort = () => {
        for (const w of [...waits]) this.end(w, 'timeout');
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
    return group;
  }

  private end(w: Waiter, v: JobView | 'timeout'): void {
    clearTimeout(w.timer);
    w.group.delete(w);
    const had = this.waiters.get(w.id);
    if (had === w) this.waiters.delete(w.id);
    else if (Array.isArray(had)) {
      const rest = had.filter((x) => x !== w);
      if (rest.length === 1) this.waiters.set(w.id, rest[0]!);
      else this.waiters.set(w.id, rest);
    }
    w.resolve(v);
  }
}
