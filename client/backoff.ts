/**
 * Capped exponential backoff with jitter: the n-th retry (from 0) waits a random time between
 * half and all of `min(capMs, baseMs * 2^n)`, so many clients that lost the same node do not
 * come back in step, yet none retries at once in a tight loop.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
