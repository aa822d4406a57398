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
  /** The counters bumped since the last save: only their rows are written. */
  private readonly changed = new Set<CounterName>();

  constructor(saved: Record<string, number>) {
    this.values = Object.fromEntries(COUNTER_NAMES.map((n) => [n, saved[n] ?? 0])) as Record<
      CounterName,
      number
    >;
  }

  bump(name: CounterName, by = 1): void {
    this.values[name] += by;
    this.changed.add(name);
  }

  /** The counters that changed since the last call, with their values, else undefined. */
  takeChanged(): Partial<Record<CounterName, number>> | undefined {
    if (this.changed.size === 0) return undefined;
    const out: Partial<Record<CounterName, number>> = {};
    for (const name of this.changed) out[name] = this.values[name];
    this.changed.clear();
    return out;
  }
}
