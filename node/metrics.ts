import { JobLatency, Metrics } from '../shared/metrics.js';

/** The numbers a node shows at each scrape (its `snapshot()`). */
export interface NodeNumbers {
  queued: number;
  running: number;
  slots: number;
  openTickets: number;
  clients: number;
  proxyConnected: boolean;
  diskFull: boolean;
  submitted: number;
  executed: number;
  localRuns: number;
  startedHere: number;
  commits: number;
}

/**
 * A node's `/metrics`, every series labelled with the node's id: its totals as counters, its
 * load as gauges, the latencies of its runs and of the tickets it issued as histograms; then
 * the process's own series.
 */
export class NodeMetrics {
  readonly metrics: Metrics;
  private readonly latency: JobLatency;

  constructor(nodeId: string, snap: () => NodeNumbers) {
    const m = (this.metrics = new Metrics('petrel_node_', { node: nodeId }));
    m.counter('submitted_total', 'Tickets issued by this node', () => snap().submitted);
    m.counter('executed_total', 'Job runs finished on this node', () => snap().executed);
    m.counter('local_runs_total', 'Jobs run here under LOCAL_FALLBACK', () => snap().localRuns);
    m.counter(
      'started_here_total',
      'Jobs started on this node, where they were submitted, under LOCAL_START',
      () => snap().startedHere,
    );
    m.counter('commits_total', 'SQLite group commits', () => snap().commits);
    this.latency = new JobLatency(m, {
      queueWait: 'Seconds from submission to the start of the counted run, for tickets issued here',
      run: 'Seconds each run on this node took',
      toResult: 'Seconds from submission until this node knew the result of a ticket it issued',
    });
    m.gauge('queued_jobs', 'Jobs waiting for a slot on this node', () => snap().queued);
    m.gauge('running_jobs', 'Jobs running on this node', () => snap().running);
    m.gauge('slots', 'Jobs this node runs at once', () => snap().slots);
    m.gauge('open_tickets', 'Tickets issued here without a result yet', () => snap().openTickets);
    m.gauge('client_connections', 'Open client connections', () => snap().clients);
    m.gauge('proxy_connected', '1 while joined to the proxy', () =>
      snap().proxyConnected ? 1 : 0,
    );
    m.gauge('disk_full', '1 while new jobs are refused because the disk is full', () =>
      snap().diskFull ? 1 : 0,
    );
  }

  /** A run on this node ended. */
  ran(startedAt: number, finishedAt: number): void {
    this.latency.ran(startedAt, finishedAt);
  }

  /** A ticket issued here got its final result. */
  ticketFinished(
    submittedAt: number,
    r: { state: string; startedAt: number | null },
    now = Date.now(),
  ): void {
    if (r.startedAt != null) this.latency.waited(submittedAt, r.startedAt);
    this.latency.resulted(r.state, submittedAt, now);
  }
}
