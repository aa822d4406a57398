/**
 * Where the next WAL sync runs: `pool` is libuv's thread pool, `loop` the event loop itself.
 *
 * On the pool the loop goes on reading and committing while the disk syncs, which is what a
 * busy process needs; but each sync then costs two wake-ups across threads (a pool thread to
 * start it, the loop to hear it ended), and on an idle virtual machine those cost as much as
 * the sync itself. On the loop a sync blocks everything else for its length, which costs a
 * mostly idle process nothing: work that arrives meanwhile waits no longer than it would for
 * the sync its own commit needs anyway.
 *
 * `adaptive` runs a sync on the loop while the disk is mostly idle: the time since the last
 * sync ended is at least `IDLE_RATIO` times that sync's length (so syncs block the loop for at
 * most a fifth of its time), and the last sync was short (a slow disk never stalls the loop).
 * Under load syncs follow one another and run on the pool.
 */
export type SyncPlacement = 'adaptive' | 'pool';

/** The disk must have been idle this many times the last sync's length. */
export const IDLE_RATIO = 4;
/** A sync that took longer than this sends the next one to the pool. */
export const MAX_LOOP_SYNC_MS = 5;

export class SyncPlacer {
  private began = 0;
  private lastEnd = Number.NEGATIVE_INFINITY;
  private lastTook = 0;
  /** Syncs run on the loop so far (a number for metrics and tests). */
  onLoopCount = 0;

  constructor(
    private readonly placement: SyncPlacement = 'adaptive',
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A sync starts now: whether it runs on the loop. */
  begin(): boolean {
    const now = (this.began = this.now());
    const loop =
      this.placement === 'adaptive' &&
      this.lastTook <= MAX_LOOP_SYNC_MS &&
      now - this.lastEnd >= IDLE_RATIO * this.lastTook;
    if (loop) this.onLoopCount++;
    return loop;
  }

  /** The sync begun last has ended, wherever it ran. */
  end(): void {
    this.lastEnd = this.now();
    this.lastTook = this.lastEnd - this.began;
  }
}
