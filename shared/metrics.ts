import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Bucket bounds in seconds for job latencies: from half a millisecond (a dispatch on an idle
 * cluster) to ten minutes (a long job), about three per decade.
 */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
  600,
];

/** A Prometheus registry that writes `prefix`, with `labels` on every series. */
export class Metrics {
  readonly registry = new Registry();
  private defaultsAdded = false;

  constructor(
    readonly prefix: string,
    labels: Record<string, string> = {},
  ) {
    this.registry.setDefaultLabels(labels);
  }

  /** A gauge read from the process's state at each scrape. */
  gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name: this.prefix + name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /**
   * A gauge with one series per label value, read at each scrape; values that disappeared
   * (a node forgotten) stop being written.
   */
  labelledGauge(
    name: string,
    help: string,
    label: string,
    read: () => Iterable<readonly [string, number]>,
  ): void {
    new Gauge({
      name: this.prefix + name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [value, n] of read()) this.set({ [label]: value }, n);
      },
    });
  }

  /**
   * A counter read from a total the process keeps (and may have restored from its database).
   * `name` ends in `_total`, as Prometheus names counters.
   */
  counter(name: string, help: string, read: () => number): void {
    new Counter({
      name: this.prefix + name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(Math.max(0, read()));
      },
    });
  }

  /** A counter with one series per label value, read from totals the process keeps. */
  labelledCounter(
    name: string,
    help: string,
    label: string,
    read: () => Iterable<readonly [string, number]>,
  ): void {
    new Counter({
      name: this.prefix + name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [value, n] of read()) this.inc({ [label]: value }, Math.max(0, n));
      },
    });
  }

  /** A latency histogram in seconds, with `LATENCY_BUCKETS`. */
  histogram(name: string, help: string, labelNames: string[] = []): Histogram {
    return new Histogram({
      name: this.prefix + name,
      help,
      labelNames,
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
  }

  /**
   * The process's own series (CPU, memory, event loop); added last so Petrel's come first.
   * The gauges that prom-client names `_total` are left out: Prometheus keeps that suffix for
   * counters, and each is the sum of a per-type gauge that stays.
   */
  addProcessMetrics(): void {
    if (this.defaultsAdded) return;
    this.defaultsAdded = true;
    const own = new Registry();
    collectDefaultMetrics({ register: own, prefix: this.prefix });
    for (const { name } of own.getMetricsAsArray()) {
      const metric = own.getSingleMetric(name);
      if (!metric || (metric instanceof Gauge && name.endsWith('_total'))) continue;
      this.registry.registerMetric(metric);
    }
  }

  /** The exposition text, and its content type. */
  async render(): Promise<{ body: string; contentType: string }> {
    this.addProcessMetrics();
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}

/** Milliseconds between two instants as seconds, never negative (clocks of two machines). */
export function secondsBetween(from: number, to: number): number {
  return Math.max(0, to - from) / 1000;
}

/**
 * The three latencies an operator watches: how long jobs waited for a slot, how long they ran,
 * and how long a client waited from its ticket to the result (labelled by final state).
 */
export class JobLatency {
  private readonly queueWait: LatencyHistogram;
  private readonly run: LatencyHistogram;
  private readonly toResult: LatencyHistogram;

  constructor(m: Metrics, help: { queueWait: string; run: string; toResult: string }) {
    const make = (name: string, h: string, label?: string) => {
      const histogram = new LatencyHistogram(m.prefix + name, h, label);
      m.registry.registerMetric(histogram as unknown as Histogram);
      return histogram;
    };
    this.queueWait = make('queue_wait_seconds', help.queueWait);
    this.run = make('run_seconds', help.run);
    this.toResult = make('submit_to_result_seconds', help.toResult, 'state');
  }

  /** From submission to the start of the run that counted. */
  waited(submittedAt: number, startedAt: number): void {
    this.queueWait.observe(secondsBetween(submittedAt, startedAt));
  }

  /** One run, from its start to its end. */
  ran(startedAt: number, finishedAt: number): void {
    this.run.observe(secondsBetween(startedAt, finishedAt));
  }

  /** From submission to the final result, in its final state. */
  resulted(state: string, submittedAt: number, at: number): void {
    this.toResult.observe(secondsBetween(submittedAt, at), state);
  }
}

interface Series {
  readonly labels: Record<string, string>;
  /** Observations per bucket of `LATENCY_BUCKETS`, then those above the last. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
}

/**
 * A histogram with `LATENCY_BUCKETS` and at most one label, written out by the registry as
 * prom-client's own are. Observing costs a bucket search and three additions: prom-client's
 * hashes its labels and makes a closure each time, which a proxy pays three times per job.
 */
export class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label?: string,
  ) {
    if (label === undefined) this.seriesOf(''); // shown at zero before anything is observed
  }

  observe(seconds: number, labelValue = ''): void {
    const s = this.series.get(labelValue) ?? this.seriesOf(labelValue);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++;
    (s.counts[i] as number)++;
    s.sum += seconds;
    s.count++;
  }

  private seriesOf(labelValue: string): Series {
    const labels: Record<string, string> =
      this.label === undefined ? {} : { [this.label]: labelValue };
    const s = { labels, counts: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0, count: 0 };
    this.series.set(labelValue, s);
    return s;
  }

  /** The exposition's samples: cumulative buckets, `+Inf`, sum and count of each series. */
  getForPromString() {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        acc += s.counts[i] as number;
        values.push({ metricName: bucket, labels: { le }, sharedLabels: s.labels, value: acc });
      });
      const shared = s.labels;
      values.push({
        metricName: bucket,
        labels: { le: '+Inf' },
        sharedLabels: shared,
        value: s.count,
      });
      values.push({
        metricName: `${this.name}_sum`,
        labels: {},
        sharedLabels: shared,
        value: s.sum,
      });
      values.push({
        metricName: `${this.name}_count`,
        labels: {},
        sharedLabels: shared,
        value: s.count,
      });
    }
    const { name, help, type, aggregator } = this;
    return { name, help, type, values, aggregator };
  }

  /** The same samples with each series' labels on every sample (the registry's JSON). */
  get() {
    const data = this.getForPromString();
    const values = data.values.map(({ sharedLabels, labels, ...rest }) => ({
      ...rest,
      labels: { ...labels, ...sharedLabels },
    }));
    return { ...data, values };
  }

  reset(): void {
    this.series.clear();
    if (this.label === undefined) this.seriesOf('');
  }
}
