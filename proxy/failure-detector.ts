/**
 * Failure detection from heartbeat history (the phi accrual detector of Hayashibara et al.):
 * instead of one fixed timeout, each node's recent heartbeat intervals say how unlikely its
 * current silence is. `phi` is that unlikelihood on a log scale: phi 8 means a silence this
 * long would happen about once in 10^8 heartbeats at the node's own rhythm. A steady node is
 * declared dead soon after it stops; a node whose rhythm is ragged (a saturated CPU) gets a
 * correspondingly longer allowance. NODE_TIMEOUT stays the upper bound either way.
 *
 * Plain arithmetic: no timers, no sockets. The proxy feeds it arrival times and asks it.
 */

export interface DetectorOptions {
  /** phi above which a node is declared dead. */
  threshold: number;
  /** Heartbeat intervals remembered per node. */
  window: number;
  /** Intervals needed before phi is trusted; until then only `maxSilenceMs` applies. */
  minSamples: number;
  /**
   * Floor for the standard deviation: a very regular rhythm would otherwise make one late
   * beat (a garbage collection, a scheduler hiccup) look impossible.
   */
  minStdDevMs: number;
  /** The upper bound (NODE_TIMEOUT): silence this long is death whatever the history says. */
  maxSilenceMs: number;
}

/** Defaults that declare a steady 250 ms heartbeat dead after about 0.75 s of silence. */
export const DEFAULT_DETECTOR: Omit<DetectorOptions, 'maxSilenceMs'> = {
  threshold: 8,
  window: 100,
  minSamples: 5,
  minStdDevMs: 100,
};

/**
 * phi for a silence of `elapsed` given intervals of `mean` and `stdDev`: -log10 of the
 * probability that the next heartbeat comes even later, under a normal distribution
 * (computed with the logistic approximation of its tail, which stays finite far out).
 */
export function phi(elapsed: number, mean: number, stdDev: number): number {
  const y = (elapsed - mean) / stdDev;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  const later = elapsed > mean ? e / (1 + e) : 1 - 1 / (1 + e);
  return later > 0 ? -Math.log10(later) : Infinity;
}

/** One node's recent heartbeat intervals (a ring buffer with running sums). */
export class HeartbeatHistory {
  private readonly intervals: Float64Array;
  private next = 0;
  private count = 0;
  private sum = 0;
  private sumSq = 0;
  private last: number | undefined;

  constructor(window: number = DEFAULT_DETECTOR.window) {
    this.intervals = new Float64Array(Math.max(1, window));
  }

  /** A heartbeat arrived at `now`. */
  beat(now: number): void {
    if (this.last !== undefined) this.add(Math.max(0, now - this.last));
    this.last = now;
  }

  private add(interval: number): void {
    if (this.count === this.intervals.length) {
      const old = this.intervals[this.next] as number;
      this.sum -= old;
      this.sumSq -= old * old;
    } else {
      this.count++;
    }
    this.intervals[this.next] = interval;
    this.next = (this.next + 1) % this.intervals.length;
    this.sum += interval;
    this.sumSq += interval * interval;
  }

  /** Intervals remembered. */
  get samples(): number {
    return this.count;
  }
  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }
  get stdDev(): number {
    if (this.count < 2) return 0;
    const m = this.mean;
    return Math.sqrt(Math.max(0, this.sumSq / this.count - m * m));
  }

  /** Forgets everything (a new connection starts a new rhythm). */
  reset(): void {
    this.next = 0;
    this.count = 0;
    this.sum = 0;
    this.sumSq = 0;
    this.last = undefined;
  }
}

/** Why a node was declared dead: its history (`phi`) or the upper bound (`timeout`). */
export type Verdict = 'alive' | 'phi' | 'timeout';

/**
 * The verdict on a node silent for `silenceMs` (since anything was last heard from it)
 * given its heartbeat history.
 */
export function judge(h: HeartbeatHistory, silenceMs: number, o: DetectorOptions): Verdict {
  if (silenceMs > o.maxSilenceMs) return 'timeout';
  if (h.samples < o.minSamples) return 'alive';
  const p = phi(silenceMs, h.mean, Math.max(h.stdDev, o.minStdDevMs));
  return p > o.threshold ? 'phi' : 'alive';
}

/** The silence at which `judge` would declare a node with this history dead (for logs). */
export function deadline(h: HeartbeatHistory, o: DetectorOptions): number {
  if (h.samples < o.minSamples) return o.maxSilenceMs;
  const sd = Math.max(h.stdDev, o.minStdDevMs);
  let lo = h.mean;
  let hi = o.maxSilenceMs;
  if (phi(hi, h.mean, sd) <= o.threshold) return o.maxSilenceMs;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (phi(mid, h.mean, sd) > o.threshold) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Which verdicts were mistakes: a node declared dead that speaks again on the same connection
 * before its silence reached the upper bound, i.e. one that NODE_TIMEOUT alone would have kept.
 */
export class SuspicionLedger {
  /** Verdicts on connected nodes. */
  suspicions = 0;
  /** Verdicts the node proved wrong by answering in time. */
  falseSuspicions = 0;
  private readonly open = new Map<string, number>();

  /** `nodeId` was declared dead; it would be a mistake if it answers before `until`. */
  suspected(nodeId: string, until: number): void {
    this.suspicions++;
    this.open.set(nodeId, until);
  }

  /** How long after `now` an answer from `nodeId` would still prove the verdict wrong. */
  graceLeft(nodeId: string, now: number): number {
    return Math.max(0, (this.open.get(nodeId) ?? now) - now);
  }

  /** The suspected node answered (or was never going to): returns whether it was a mistake. */
  settle(nodeId: string, answered: boolean, now: number): boolean {
    const until = this.open.get(nodeId);
    if (until === undefined) return false;
    this.open.delete(nodeId);
    const mistake = answered && now <= until;
    if (mistake) this.falseSuspicions++;
    return mistake;
  }
}
