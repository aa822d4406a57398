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
 *
 * Rows are kept in two generations of half the bound each: a full young one becomes the old
 * one, and the old one is let go whole. Every job adds a row, and one `Map.set` per row costs
 * a seventh of evicting the oldest row one at a time (a Map skips the holes its deletions
 * leave in front until it is rebuilt). At least the newest `max / 2` rows are kept, at most
 * `max`.
 */
export class RecentTickets {
  private young = new Map<string, TicketRow>();
  private old = new Map<string, TicketRow>();
  private readonly half: number;

  constructor(max = RECENT_TICKETS) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get(id: string): TicketRow | undefined {
    return this.young.get(id) ?? this.old.get(id);
  }

  /** Keeps `row`; the older generation goes once the young one is full. */
  add(row: TicketRow): void {
    this.young.set(row.id, row);
    if (this.young.size < this.half) return;
    this.old = this.young;
    this.young = new Map();
  }

  forget(id: string): void {
    this.young.delete(id);
    this.old.delete(id);
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  /** Rows kept (one added again in both generations counts twice). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
