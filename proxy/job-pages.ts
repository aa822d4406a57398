/**
 * A page of `GET /api/jobs`, read newest-first from the proxy's jobs table in windows of the
 * primary key (or of a partial index), so one request reads at most `budget` rows: a filter few
 * jobs match (a rare tenant) no longer walks every job kept for RESULT_TTL on the event loop
 * that also reads the nodes' heartbeats.
 */

/** Rows one request reads at most: 14-25 ms of event loop on a 2-core VM (docs/performance.md). */
export const LIST_SCAN_BUDGET = 30_000;
/** Rows one statement reads at most. */
export const LIST_WINDOW = 10_000;

/** Above every ticket: where a list without `before` starts. */
export const NEWEST = '~';

export interface PageBounds {
  /** Rows one request reads at most. */
  budget: number;
  /** Rows one statement reads at most. */
  window: number;
}

export const LIST_BOUNDS: PageBounds = { budget: LIST_SCAN_BUDGET, window: LIST_WINDOW };

/** How a page reads its rows; the ids are tickets, and both read the same order (newest first). */
export interface PageReader<T extends { id: string }> {
  /** Of the `window` newest rows older than `before`, at most `need` that match, newest first. */
  matching(before: string, window: number, need: number): T[];
  /** How many rows the `window` newest older than `before` are (fewer at the end), the oldest's id. */
  extent(before: string, window: number): { n: number; oldest: string | null };
}

/** A page: `next` (pass as `before`) whenever more may exist; `partial` when the budget ended it. */
export interface Page<T> {
  rows: T[];
  next?: string;
  partial?: true;
}

/** The newest `limit` matching rows older than `before` (none: the newest), within `bounds`. */
export function readPage<T extends { id: string }>(
  reader: PageReader<T>,
  limit: number,
  before: string = NEWEST,
  bounds: PageBounds = LIST_BOUNDS,
): Page<T> {
  const rows: T[] = [];
  let cursor = before;
  let scanned = 0;
  for (;;) {
    const window = Math.max(1, Math.min(bounds.window, bounds.budget - scanned));
    rows.push(...reader.matching(cursor, window, limit - rows.length));
    // a full page: older jobs may match too
    if (rows.length >= limit) return { rows, next: (rows.at(-1) as T).id };
    const { n, oldest } = reader.extent(cursor, window);
    if (n < window || oldest === null) return { rows }; // the file's end: nothing older
    scanned += n;
    cursor = oldest;
    if (scanned >= bounds.budget) return { rows, next: cursor, partial: true };
  }
}
