/**
 * Summary statistics for latency samples. Percentiles use the nearest-rank method on the
 * sorted samples: p99 of 100 samples is the 99th smallest, never an interpolated value.
 */

export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly min: number;
}

/** The value at percentile `p` (0..100) of already sorted samples, nearest rank; NaN if empty. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (p <= 0) return sorted[0] as number;
  if (p >= 100) return sorted[n - 1] as number;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n, Math.max(1, rank)) - 1] as number;
}

/** Summarises samples (NaN samples are ignored). Does not modify the input. */
export function summarize(samples: ArrayLike<number>): Summary {
  const clean = new Float64Array(samples.length);
  let n = 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i] as number;
    if (Number.isNaN(v)) continue;
    clean[n++] = v;
    sum += v;
  }
  const sorted = clean.subarray(0, n).sort();
  return {
    count: n,
    mean: n === 0 ? NaN : sum / n,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    max: n === 0 ? NaN : (sorted[n - 1] as number),
    min: n === 0 ? NaN : (sorted[0] as number),
  };
}

/** Arithmetic mean, NaN when empty. */
export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  return sum / values.length;
}

/** A growable sample buffer that does not allocate per sample. */
export class Samples {
  private buf: Float64Array;
  private n = 0;

  constructor(initial = 1024) {
    this.buf = new Float64Array(Math.max(16, initial));
  }

  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }

  get length(): number {
    return this.n;
  }

  values(): Float64Array {
    return this.buf.subarray(0, this.n);
  }
}

/** The median, the mean of the two middle values for an even count (NaN for none). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  if (s.length === 0) return NaN;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
