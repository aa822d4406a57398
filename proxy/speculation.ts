/**
 * Stragglers (Sparrow's proactive cancellation, MapReduce's backup tasks): a task running far
 * longer than its finished siblings is copied onto an idle slot; the first copy to finish
 * wins and the other is cancelled. Plain logic over times.
 */

/** How many times the finished siblings' median a task may run before it is a straggler. */
export const STRAGGLER_FACTOR = 3;
/** A straggler must also be this far past the median: tiny tasks are not worth a copy. */
export const STRAGGLER_MIN_EXTRA_MS = 250;
/** Share of a job's tasks that must have finished before its median means anything. */
export const STRAGGLER_QUORUM = 0.5;

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface RunningTask {
  readonly startedAt: number;
}

/**
 * The running tasks of one job that deserve a copy now: those running longer than
 * `STRAGGLER_FACTOR` times the median run time of the tasks that finished, once enough of them
 * did (`total` tasks in all).
 */
export function stragglers<T extends RunningTask>(
  running: readonly T[],
  finishedDurations: readonly number[],
  total: number,
  now: number,
): T[] {
  if (finishedDurations.length === 0) return [];
  if (finishedDurations.length < Math.ceil(total * STRAGGLER_QUORUM)) return [];
  const m = median(finishedDurations);
  const limit = Math.max(m * STRAGGLER_FACTOR, m + STRAGGLER_MIN_EXTRA_MS);
  return running.filter((t) => now - t.startedAt > limit);
}
