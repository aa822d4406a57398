import { retryOf, type JobSpec } from '../shared/job.js';

/** How far a retry's wait may stray from its nominal backoff, either way. */
export const RETRY_JITTER = 0.2;

/** Whether a job that has failed `failedRuns` times may run again under its `retry` policy. */
export function mayRetry(spec: Pick<JobSpec, 'retry'>, failedRuns: number): boolean {
  return failedRuns < retryOf(spec).attempts;
}

/**
 * The wait before the n-th retry (n ≥ 1): min(maxBackoffMs, backoffMs·2^(n-1)), then ±20%
 * jitter so that jobs failing together do not come back together. `random` is in [0, 1).
 */
export function retryDelay(
  spec: Pick<JobSpec, 'retry'>,
  n: number,
  random: () => number = Math.random,
): number {
  const { backoffMs, maxBackoffMs } = retryOf(spec);
  const nominal = Math.min(maxBackoffMs, backoffMs * 2 ** Math.max(0, n - 1));
  const jitter = 1 + RETRY_JITTER * (2 * random() - 1);
  return Math.max(0, Math.round(nominal * jitter));
}
