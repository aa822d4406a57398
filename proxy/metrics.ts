import { JobLatency, Metrics } from '../shared/metrics.js';
import type { TenantLoad } from './assignments.js';
import type { JobRecord } from './job-store.js';
import type { NodeEntry } from './scheduler.js';

/** What the proxy's metrics read at each scrape. */
export interface ProxyMetricsSource {
  /** The scheduler's view; undefined while this proxy does not lead. */
  cluster(): ClusterNumbers | undefined;
  commits(): number;
  /** Whether the disk holding the database is full (commits wait for space). */
  diskFull(): boolean;
  rejectedFrames(): number;
  refusedConnections(): number;
}

/** The part of the scheduler the metrics read. */
export interface ClusterNumbers {
  readonly queueLength: number;
  readonly liveJobs: number;
  /** Jobs whose result expired before its origin took it, since this process started. */
  readonly undeliveredExpired: number;
  readonly counters: Readonly<Record<string, number>>;
  readonly nodes: ReadonlyMap<string, NodeEntry>;
  readonly suspicions: { readonly suspicions: number; readonly falseSuspicions: number };
  /** Active schedules, and firings made and skipped since this proxy began to lead. */
  readonly scheduleCounts: { active: number; fired: number; skipped: number };
  /** Jobs a node may hold beyond its slots now. */
  holdOf(n: NodeEntry): number;
  tenants(): TenantLoad[];
}

/**
 * The proxy's `/metrics`: the cluster's totals as counters, the queue and each node's load as
 * gauges labelled by node, and the latencies of finished jobs as histograms; then the
 * process's own series.
 */
export class ProxyMetrics {
  readonly metrics = new Metrics('petrel_proxy_');
  private readonly latency: JobLatency;

  constructor(src: ProxyMetricsSource) {
    const m = this.metrics;
    const c = () => src.cluster();
    m.labelledCounter(
      'jobs_total',
      'Jobs by outcome since the database was created',
      'outcome',
      () => Object.entries(c()?.counters ?? {}),
    );
    this.latency = new JobLatency(m, {
      queueWait: 'Seconds from submission to the start of the run whose result counted',
      run: 'Seconds the run whose result counted took',
      toResult: 'Seconds from submission to the recorded final result, by final state',
    });
    // a proxy acts on the cluster only while it leads (always, alone): alert when no proxy
    // of a group reports 1
    m.gauge(
      'leader',
      '1 while this proxy leads the cluster, 0 while it follows or takes over',
      () => (c() ? 1 : 0),
    );
    m.gauge('queued_jobs', 'Jobs waiting in the global queue', () => c()?.queueLength ?? 0);
    m.gauge('live_jobs', 'Jobs not finished or not yet delivered', () => c()?.liveJobs ?? 0);
    m.counter(
      'undelivered_expired_total',
      'Results deleted at RESULT_TTL that never reached their origin (it stayed away)',
      () => c()?.undeliveredExpired ?? 0,
    );
    m.gauge('connected_nodes', 'Nodes joined now', () => connected(c()).length);
    m.gauge(
      'schedules',
      'Active schedules (jobs with cron)',
      () => c()?.scheduleCounts.active ?? 0,
    );
    m.counter(
      'schedule_firings_total',
      'Runs schedules fired since this proxy began to lead',
      () => c()?.scheduleCounts.fired ?? 0,
    );
    m.counter(
      'schedule_skipped_firings_total',
      "Firings skipped while the schedule's previous run still waited to run, since this proxy began to lead",
      () => c()?.scheduleCounts.skipped ?? 0,
    );
    const perNode = (name: string, help: string, read: (n: NodeEntry) => number) =>
      m.labelledGauge(name, help, 'node', () => connected(c()).map((n) => [n.id, read(n)]));
    perNode('node_slots', 'Jobs a joined node runs at once', (n) => n.slots);
    perNode('node_queued_jobs', 'Jobs waiting on a joined node, as it last said', (n) => n.queued);
    perNode(
      'node_running_jobs',
      'Jobs running on a joined node, as it last said',
      (n) => n.running,
    );
    perNode('node_outstanding_jobs', 'Jobs given to a joined node, unfinished', (n) => n.jobs.size);
    perNode(
      'node_hold_jobs',
      'Jobs a joined node may hold beyond its slots now: PREFETCH, or more for short jobs',
      (n) => c()?.holdOf(n) ?? 0,
    );
    perNode('node_draining', '1 while a joined node is stopping', (n) => (n.draining ? 1 : 0));
    const perTenant = (name: string, help: string, read: (t: TenantLoad) => number) =>
      m.labelledGauge(name, help, 'tenant', () =>
        (c()?.tenants() ?? []).map((t) => [t.name, read(t)]),
      );
    perTenant(
      'tenant_queued_jobs',
      'Jobs of a tenant waiting in the global queue',
      (t) => t.queued,
    );
    perTenant(
      'tenant_outstanding_jobs',
      'Jobs of a tenant given to nodes, unfinished',
      (t) => t.outstanding,
    );
    perTenant(
      'tenant_weight',
      "A tenant's weight in the fair share (TENANT_WEIGHTS)",
      (t) => t.weight,
    );
    m.labelledCounter(
      'node_results_total',
      'Results a node reported that counted, since it joined this proxy process',
      'node',
      () => [...(c()?.nodes.values() ?? [])].map((n) => [n.id, n.done]),
    );
    m.counter(
      'node_suspicions_total',
      'Connected nodes declared dead (by heartbeat history or NODE_TIMEOUT)',
      () => c()?.suspicions.suspicions ?? 0,
    );
    m.counter(
      'node_false_suspicions_total',
      'Nodes declared dead that answered before NODE_TIMEOUT passed (they were alive)',
      () => c()?.suspicions.falseSuspicions ?? 0,
    );
    m.counter('db_commits_total', 'SQLite group commits', () => src.commits());
    m.gauge('disk_full', '1 while the disk holding the database is full', () =>
      src.diskFull() ? 1 : 0,
    );
    m.counter('rejected_frames_total', 'Frames refused as invalid', () => src.rejectedFrames());
    m.counter('refused_connections_total', 'Node connections refused', () =>
      src.refusedConnections(),
    );
  }

  /** A job reached its final state (its first result was recorded). */
  finished(job: JobRecord): void {
    const r = job.result;
    if (!r) return;
    if (r.startedAt != null) {
      this.latency.waited(job.submittedAt, r.startedAt);
      this.latency.ran(r.startedAt, r.finishedAt);
    }
    this.latency.resulted(r.state, job.submittedAt, r.finishedAt);
  }
}

function connected(c: ClusterNumbers | undefined): NodeEntry[] {
  return [...(c?.nodes.values() ?? [])].filter((n) => n.conn);
}
