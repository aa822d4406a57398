import type { TicketRow } from './ticket-store.js';

/** How many rows `RecentTickets` keeps by default. */
export const RECENT_TICKETS = 4096;

/**
 * The newest tickets that were written already finished (a job that ended before its ticket
 * committed, as an `echo` does): the client's WAIT or RESULT usually comes right after its
 * ticket, and is answered from here instead of reading and parsing the row again. It holds
 * only what the file holds: the store adds a row when its statement runs (when SQL reads
 * would see it too), and drops it when the row changes (RETRY reopens it), is rolled back (a
 * full disk) or may be gone (expiry).
 */
export class RecentTickets {
  private readonly rows = new Map<string, TicketRow>();

  constructor(private readonly max = RECENT_TICKETS) {}

  get(id: string): TicketRow | undefined {
    return this.rows.get(id);
  }

  /** Keeps `row`, forgetting the oldest beyond `max`. */
  add(row: TicketRow): void {
    this.rows.delete(row.id);
    this.rows.set(row.id, row);
    if (this.rows.size > this.max) {
      const oldest = this.rows.keys().next();
      if (!oldest.done) this.rows.delete(oldest.value);
    }
  }

  forget(id: string): void {
    this.rows.delete(id);
  }

  clear(): void {
    this.rows.clear();
  }

  get size(): number {
    return this.rows.size;
  }
}
