/** The outcomes the proxy counts, since its database was created. */
export const COUNTER_NAMES = [
  'submitted',
  'done',
  'failed',
  'cancelled',
  'lost',
  'duplicates',
  'requeued',
  'rejected',
  /** Tasks of jobs of many tasks that ended (their jobs are counted as jobs). */
  'tasks',
  /** Speculative copies of straggling tasks. */
  'speculated',
  'retried',
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

/**
 * The cluster's totals. They change with the jobs they count, so the conductor saves them in
 * the same commit (`takeChanged` before each flush).
 */
export class Counters {
  readonly values: Record<CounterName, number>;
  private changed = false;

  constructor(saved: Record<string, number>) {
    this.values = Object.fromEntries(COUNTER_NAMES.map((n) => [n, saved[n] ?? 0])) as Record<
      CounterName,
      number
    >;
  }

  bump(name: CounterName, by = 1): void {
    this.values[name] += by;
    this.changed = true;
  }

  /** The values when they changed since the last call, else undefined. */
  takeChanged(): Record<CounterName, number> | undefined {
    if (!this.changed) return undefined;
    this.changed = false;
    return this.values;
  }
}
