/**
 * RESULT_TTL expiry in chunks. One DELETE of every expired row is one transaction: all its
 * pages pass through the WAL at once (a minute of results at thousands of jobs per second
 * is hundreds of MiB of WAL, which SQLite then keeps), and the event loop waits for all of
 * it. Deleting at most `EXPIRE_CHUNK` rows per statement, one statement per turn of the
 * event loop, bounds both: the WAL holds one chunk's pages between checkpoints, and clients
 * wait for one chunk at most.
 */

/** Rows one expiry statement deletes at most. */
export const EXPIRE_CHUNK = 2000;

/**
 * A sweep that calls `step` (which deletes at most `chunk` rows and returns how many) until a
 * step deletes fewer than `chunk`, one step per turn of the event loop. One sweep at a time:
 * a sweep asked for while one runs is not started twice.
 */
export class ChunkedSweep {
  private running = false;
  private stopped = false;

  constructor(
    private readonly step: () => number,
    private readonly chunk = EXPIRE_CHUNK,
    /** How the next step is scheduled (the next turn of the event loop). */
    private readonly later: (fn: () => void) => void = (fn) => setImmediate(fn),
  ) {}

  /** Whether a sweep is under way. */
  get busy(): boolean {
    return this.running;
  }

  /** Starts a sweep unless one runs; `done` gets the rows it deleted in all. */
  run(done: (deleted: number) => void = () => {}): void {
    if (this.running || this.stopped) return;
    this.running = true;
    let total = 0;
    const next = (): void => {
      if (this.stopped) {
        this.running = false;
        return;
      }
      let n: number;
      try {
        n = this.step();
      } catch (err) {
        this.running = false;
        throw err;
      }
      total += n;
      if (n >= this.chunk) {
        this.later(next);
        return;
      }
      this.running = false;
      done(total);
    };
    next();
  }

  /** No further step runs (the process is closing its database). */
  stop(): void {
    this.stopped = true;
  }
}
