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
 * the same commit: with the last write of each transaction (`saver`), as some writes learn only
 * inside it whether they count (`willCount`).
 */
export class Counters {
  readonly values: Record<CounterName, number>;
  /** The counters bumped since the last save: only their rows are written. */
  private readonly changed = new Set<CounterName>();
  /** A queued write counts inside its transaction: that transaction must save the counters. */
  private counting = false;

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

  /** A write queued now may bump counters inside its transaction (see `saver`). */
  willCount(): void {
    this.counting = true;
  }

  /** Whether the next transaction has counters to save. */
  get unsaved(): boolean {
    return this.changed.size > 0 || this.counting;
  }

  /**
   * Takes, each time it is called, the counters changed since (with their values then),
   * together with those earlier calls took: a transaction a full disk rolled back and runs
   * again writes them again. Called from inside a transaction, last, so it sees what its
   * writes counted.
   */
  saver(): () => Partial<Record<CounterName, number>> | undefined {
    const taken = new Set<CounterName>();
    return () => {
      this.counting = false;
      for (const name of this.changed) taken.add(name);
      this.changed.clear();
      if (taken.size === 0) return undefined;
      const out: Partial<Record<CounterName, number>> = {};
      for (const name of taken) out[name] = this.values[name];
      return out;
    };
  }
}
