/**
 * Reproducible workloads: a seeded generator, so the balance scenario and the seed-mode
 * scenario see exactly the same arrivals and durations, run after run.
 */

/** mulberry32: a small, fast, well-mixed 32-bit PRNG. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An exponentially distributed sample with the given mean. */
export function exponential(random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

/** One planned job of an open-loop run. */
export interface PlannedJob {
  /** When to send it, in ms after the run starts. */
  readonly at: number;
  /** The SUBMIT arguments, e.g. `sleep 37` or `echo x`. */
  readonly command: string;
  /** For sleep jobs: the run time in ms. */
  readonly durationMs: number;
}

/**
 * A Poisson stream of `ratePerSec` arrivals over `durationMs`; `make` turns each arrival
 * into a job. Bounded by `maxJobs`.
 */
export function poissonArrivals(
  random: () => number,
  ratePerSec: number,
  durationMs: number,
  make: (random: () => number) => { command: string; durationMs: number },
  maxJobs = 1_000_000,
): PlannedJob[] {
  const jobs: PlannedJob[] = [];
  const meanGapMs = 1000 / ratePerSec;
  let t = exponential(random, meanGapMs);
  while (t < durationMs && jobs.length < maxJobs) {
    jobs.push({ at: t, ...make(random) });
    t += exponential(random, meanGapMs);
  }
  return jobs;
}

/** Sleep jobs with exponential run times (whole milliseconds, as `sleep` takes them). */
export function sleepJob(meanMs: number): (random: () => number) => {
  command: string;
  durationMs: number;
} {
  return (random) => {
    const ms = Math.round(exponential(random, meanMs));
    return { command: `sleep ${ms}`, durationMs: ms };
  };
}

/** A no-op echo job. */
export function echoJob(): { command: string; durationMs: number } {
  return { command: 'echo x', durationMs: 0 };
}
