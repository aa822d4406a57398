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
  /** Each kept row, with the slot of `order` that holds its id. */
  private readonly rows = new Map<string, { row: TicketRow; slot: number }>();
  /**
   * The kept ids in the order they were added, as a ring: the slot written next holds the
   * oldest. (Evicting through the Map's own order would cost more with every eviction, as a
   * Map skips the holes its deletions leave in front until it is rebuilt.)
   */
  private readonly order: (string | undefined)[];
  private next = 0;

  constructor(private readonly max = RECENT_TICKETS) {
    this.order = new Array<string | undefined>(max);
  }

  get(id: string): TicketRow | undefined {
    return this.rows.get(id)?.row;
  }

  /** Keeps `row`, forgetting the oldest beyond `max`. */
  add(row: TicketRow): void {
    const slot = this.next;
    const oldest = this.order[slot];
    // the id last added in this slot, unless it was added again since (a later slot holds it)
    if (oldest !== undefined && this.rows.get(oldest)?.slot === slot) this.rows.delete(oldest);
    this.order[slot] = row.id;
    this.rows.set(row.id, { row, slot });
    this.next = slot + 1 === this.max ? 0 : slot + 1;
  }

  forget(id: string): void {
    this.rows.delete(id);
  }

  clear(): void {
    this.rows.clear();
    this.order.fill(undefined);
    this.next = 0;
  }

  get size(): number {
    return this.rows.size;
  }
}
