import { ticketTime } from '../shared/ids.js';

/**
 * How long a claim waits for a ticket of its `after` that this proxy has not heard of yet.
 * A node answers a SUBMIT once its own commit is done and forwards the job just after, so a
 * client that names the ticket at once (on that node or another) can be faster than the
 * forward; a node reconnecting after a proxy restart sends its jobs again within this time.
 */
export const AFTER_GRACE_MS = 5000;
/** A ticket made longer ago than this is not waited for: unknown, it expired or never was. */
export const AFTER_RECENT_MS = 60_000;
/** How often a waiting claim looks again when no arrival woke it (a job adopted, say). */
const LOOK_AGAIN_MS = 250;

interface Waiter {
  tickets: readonly string[];
  retry: () => void;
  timer: NodeJS.Timeout;
}

/**
 * Claims whose `after` names tickets not known here yet: each is tried again as soon as one
 * of them arrives (or every LOOK_AGAIN_MS), until its deadline, when it is tried a last time
 * and refused if a ticket is still unknown.
 */
export class ClaimWaits {
  private readonly byTicket = new Map<string, Set<Waiter>>();
  private closed = false;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Parks a claim until one of `unknown` arrives; false when it should be refused now: its
   * deadline passed, or a ticket is too old to be on its way.
   */
  park(unknown: readonly string[], deadline: number, retry: () => void): boolean {
    const now = this.now();
    if (this.closed || now >= deadline) return false;
    if (unknown.some((t) => ticketTime(t) < now - AFTER_RECENT_MS)) return false;
    const w: Waiter = {
      tickets: unknown,
      retry,
      timer: setTimeout(() => this.wake(w), Math.min(LOOK_AGAIN_MS, deadline - now)),
    };
    w.timer.unref();
    for (const t of unknown) {
      let set = this.byTicket.get(t);
      if (!set) this.byTicket.set(t, (set = new Set()));
      set.add(w);
    }
    return true;
  }

  /** A job became known: the claims waiting for it are tried again (after this tick's work). */
  arrived(ticket: string): void {
    const set = this.byTicket.get(ticket);
    if (!set) return;
    for (const w of [...set]) {
      this.unpark(w);
      setImmediate(() => this.run(w));
    }
  }

  private wake(w: Waiter): void {
    this.unpark(w);
    this.run(w);
  }

  private run(w: Waiter): void {
    if (!this.closed) w.retry();
  }

  private unpark(w: Waiter): void {
    clearTimeout(w.timer);
    for (const t of w.tickets) {
      const set = this.byTicket.get(t);
      set?.delete(w);
      if (set?.size === 0) this.byTicket.delete(t);
    }
  }

  /** Drops every waiting claim (this proxy stops leading): their nodes ask the next one. */
  close(): void {
    this.closed = true;
    for (const set of this.byTicket.values()) for (const w of set) clearTimeout(w.timer);
    this.byTicket.clear();
  }
}
