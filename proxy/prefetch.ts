/**
 * Adaptive prefetch: how many jobs a node may hold beyond its free slots so that no slot
 * waits for the proxy between short jobs. A slot that finishes a job waits one round trip
 * (the node's report to the proxy, the proxy's next dispatch back) before its next job can
 * arrive; by Little's law, keeping `slots` slots busy through that gap takes
 * `slots × roundTrip / runTime` jobs in transit. Long jobs need none beyond PREFETCH, so
 * balance (the reason the hold is small at all) is kept where it matters; short jobs get a
 * deeper pipe, bounded so one node never hoards the queue.
 *
 * Plain logic: the scheduler feeds it observations, it answers a number.
 */

/** Weight of a new sample in the moving averages. */
const ALPHA = 0.2;

export interface PrefetchLimits {
  /** PREFETCH: the floor, and the whole allowance until anything is measured. */
  readonly base: number;
  /** The most jobs held beyond the slots, as a multiple of the slots. */
  readonly maxPerSlot: number;
}

export const DEFAULT_MAX_PER_SLOT = 8;

export class PrefetchEstimator {
  private rttMs = NaN;
  private runMs = NaN;
  /** Jobs the node finishes per millisecond, when busy. */
  private rate = NaN;
  private lastResultAt = NaN;

  /** Time from sending a dispatch to hearing the node took it. */
  observeRoundTrip(ms: number): void {
    if (!(ms >= 0)) return;
    this.rttMs = Number.isNaN(this.rttMs) ? ms : this.rttMs + ALPHA * (ms - this.rttMs);
  }

  /** How long one job ran on the node (start to finish). */
  observeRun(ms: number): void {
    if (!(ms >= 0)) return;
    this.runMs = Number.isNaN(this.runMs) ? ms : this.runMs + ALPHA * (ms - this.runMs);
  }

  /**
   * `count` results arrived at `now`. A node whose jobs take no time still needs time of its
   * own per job: its completion rate, not the jobs' run time, says how fast it drains.
   */
  observeCompletions(count: number, now: number): void {
    const since = now - this.lastResultAt;
    this.lastResultAt = now;
    if (!(count > 0) || !(since > 0) || since > 1000) return; // idle gaps say nothing of speed
    const r = count / since;
    this.rate = Number.isNaN(this.rate) ? r : this.rate + ALPHA * (r - this.rate);
  }

  get roundTripMs(): number {
    return this.rttMs;
  }
  get meanRunMs(): number {
    return this.runMs;
  }

  /** Jobs the node may hold beyond its slots. */
  allowance(slots: number, limits: PrefetchLimits): number {
    const cap = Math.max(limits.base, Math.ceil(slots * limits.maxPerSlot));
    if (Number.isNaN(this.rttMs) || Number.isNaN(this.runMs)) return limits.base;
    // a run shorter than a millisecond is timed as 0 ms: count it as half of one
    const run = Math.max(this.runMs, 0.5);
    // jobs drain at slots / run, or faster when measured so (a node's own cost per job)
    const perMs = Math.max(slots / run, Number.isNaN(this.rate) ? 0 : this.rate);
    const inTransit = Math.ceil(this.rttMs * perMs);
    return Math.min(cap, Math.max(limits.base, inTransit));
  }
}
