import type { JobResult } from '../shared/job-view.js';
import type { JobSpec } from '../shared/job.js';

/** A ticket of this node's that ended with a result the proxy pushed. */
export interface DeliveredResult {
  readonly id: string;
  readonly spec: JobSpec;
  readonly submittedAt: number;
  readonly result: JobResult;
  /** When it arrived here. */
  readonly at: number;
}

/** How long a pushed result is kept for a new leader: beyond a lease, and a takeover's wait. */
export const RECENT_RESULTS_MS = 10_000;
/** At most this many are kept, and at most this much output text (characters) among them. */
export const RECENT_RESULTS_MAX = 2048;
export const RECENT_RESULTS_TEXT = 1024 * 1024;

/**
 * The results the proxy pushed to this origin lately. A proxy that took over a group learns
 * of live jobs from the nodes (the origins' open tickets, the executors' holds), not of jobs
 * the proxy before it had just ended: an executor whose last result that proxy never
 * acknowledged hands it to the new one as new. Were it a failure, the new proxy, which does
 * not know the job's earlier runs, would run it again, and end it otherwise than the clients
 * of its origin already saw. So an origin tells a new leader the results it received lately,
 * as results it decided (the proxy takes an origin's result over any of its own).
 *
 * Bounded by age, count and output: a newer entry pushes the oldest out. Pure.
 */
export class RecentResults {
  private entries: DeliveredResult[] = [];
  private head = 0;
  private text = 0;

  constructor(
    private readonly windowMs = RECENT_RESULTS_MS,
    private readonly max = RECENT_RESULTS_MAX,
    private readonly maxText = RECENT_RESULTS_TEXT,
  ) {}

  add(e: DeliveredResult): void {
    this.entries.push(e);
    this.text += e.result.output.length;
    this.trim(e.at);
  }

  /** Those that arrived within the window before `now`, oldest first. */
  since(now: number): DeliveredResult[] {
    this.trim(now);
    return this.entries.slice(this.head);
  }

  /** Drops those older than the window before `now` (also done by `add` and `since`). */
  forget(now: number): void {
    this.trim(now);
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  private trim(now: number): void {
    const from = now - this.windowMs;
    while (this.head < this.entries.length) {
      const oldest = this.entries[this.head] as DeliveredResult;
      if (oldest.at >= from && this.size <= this.max && this.text <= this.maxText) break;
      this.text -= oldest.result.output.length;
      this.head++;
    }
    // the array is compacted once its dropped front outweighs what is kept
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
