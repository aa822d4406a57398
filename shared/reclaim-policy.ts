/**
 * When a database file gives its free pages back to the file system, and how fast. Pure: the
 * SQLite side (`reclaim.ts`) reads the file's page counts and does what these functions say.
 *
 * Deleted rows leave their pages on SQLite's freelist; only a file made with incremental
 * auto-vacuum can hand them back, a bounded number per statement, and the file itself shrinks
 * at the next checkpoint that copies the whole WAL back (the checkpoint truncates it).
 */

/** A database file's pages, as SQLite counts them. */
export interface FilePages {
  pageSize: number;
  /** Pages in the database, free ones included. */
  pageCount: number;
  /** Pages on the freelist: allocated in the file, holding nothing. */
  freePages: number;
}

/** The knobs of reclaiming; `RECLAIM_POLICY` holds the product's values. */
export interface ReclaimPolicy {
  /**
   * Bytes one `incremental_vacuum` statement frees at most. Freeing moves the live pages at
   * the file's end into free slots, and each move rewrites the page, its parent and pointer
   * map entries: 256 KiB of pages that all had to move took 2-3 ms here, 1 MiB 8-10 ms and
   * up to 40 (see bench/reclaim-cost.ts). Pages that are free at the end cost next to nothing.
   */
  stepBytes: number;
  /**
   * Bytes freed between two checkpoints. A checkpoint truncates the file, and the file system
   * frees the cut-off blocks while the event loop waits (about 0.3 ms per MiB here): cutting
   * in slices keeps each wait short after a burst of gigabytes (a checkpoint after 16 MiB
   * took 11-19 ms, copy and syncs included). Freeing pages writes little to the WAL, so
   * SQLite's own checkpoints, every 1000 pages written, would come too rarely to do it.
   */
  checkpointBytes: number;
  /**
   * Free space kept, at least this many bytes, or `keepShare` of the live data if more: the
   * next inserts take it back at once, so freeing it would move live pages for nothing.
   */
  minKeepBytes: number;
  keepShare: number;
  /**
   * A file made without incremental auto-vacuum is converted at start (a VACUUM, which
   * rewrites every live page while the process waits) only when its live data is at most
   * this size: about 1-1.6 s per 100 MiB here, so well inside a liveness probe's patience.
   */
  convertMaxBytes: number;
}

const MiB = 1024 * 1024;

/** The product's reclaim policy. */
export const RECLAIM_POLICY: Readonly<ReclaimPolicy> = Object.freeze({
  stepBytes: MiB / 4,
  checkpointBytes: 16 * MiB,
  minKeepBytes: 4 * MiB,
  keepShare: 0.25,
  convertMaxBytes: 64 * MiB,
});

/** Pages holding data. */
export function livePages(f: FilePages): number {
  return Math.max(0, f.pageCount - f.freePages);
}

/** Free pages a file keeps after a reclaim. */
export function keptFreePages(f: FilePages, p: ReclaimPolicy): number {
  const floor = Math.ceil(p.minKeepBytes / f.pageSize);
  return Math.max(floor, Math.floor(livePages(f) * p.keepShare));
}

/**
 * Whether a reclaim is worth starting: more than twice the kept free space lies unused. The
 * gap between starting (twice) and stopping (once) spares a file in steady use, where each
 * expiry frees what the next minutes fill again, from being cut and regrown every sweep.
 */
export function worthReclaiming(f: FilePages, p: ReclaimPolicy): boolean {
  return f.freePages > 2 * keptFreePages(f, p);
}

/** What a reclaim under way does on its next turn of the event loop. */
export type ReclaimAction =
  { kind: 'vacuum'; pages: number } | { kind: 'checkpoint' } | { kind: 'done' };

/** Progress of a reclaim under way, as its SQLite side tracks it. */
export interface ReclaimProgress {
  /** Pages freed since the last checkpoint: still in the file until one runs. */
  uncheckpointed: number;
  /** The last vacuum freed nothing (something else holds the pages): no further one. */
  stalled: boolean;
}

/**
 * The next step of a reclaim: free up to `stepBytes` more while the file holds more than it
 * keeps, checkpoint once `checkpointBytes` were freed and at the end, then stop.
 */
export function nextReclaimAction(
  f: FilePages,
  progress: ReclaimProgress,
  p: ReclaimPolicy,
): ReclaimAction {
  if (progress.uncheckpointed * f.pageSize >= p.checkpointBytes) return { kind: 'checkpoint' };
  const excess = f.freePages - keptFreePages(f, p);
  if (excess > 0 && !progress.stalled) {
    const step = Math.max(1, Math.floor(p.stepBytes / f.pageSize));
    return { kind: 'vacuum', pages: Math.min(step, excess) };
  }
  return progress.uncheckpointed > 0 ? { kind: 'checkpoint' } : { kind: 'done' };
}

/** SQLite's `auto_vacuum` values. */
export const AUTO_VACUUM = { none: 0, full: 1, incremental: 2 } as const;

/** What an existing file's format calls for when it is opened. */
export type FormatDecision =
  | { kind: 'keep' }
  | { kind: 'convert' }
  | { kind: 'too-large'; liveBytes: number }
  | { kind: 'no-space'; liveBytes: number; diskFreeBytes: number };

/**
 * Whether a file made without incremental auto-vacuum is converted now. A conversion builds a
 * copy of the live data and writes it into the WAL before the file takes it back, so the disk
 * must hold the live data twice more, with room to spare for the other files on it.
 */
export function formatDecision(
  f: FilePages & { autoVacuum: number; diskFreeBytes: number },
  p: ReclaimPolicy,
): FormatDecision {
  if (f.autoVacuum !== AUTO_VACUUM.none) return { kind: 'keep' };
  const liveBytes = livePages(f) * f.pageSize;
  if (liveBytes > p.convertMaxBytes) return { kind: 'too-large', liveBytes };
  if (f.diskFreeBytes < 2 * liveBytes + p.minKeepBytes) {
    return { kind: 'no-space', liveBytes, diskFreeBytes: f.diskFreeBytes };
  }
  return { kind: 'convert' };
}
