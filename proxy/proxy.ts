import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from '../shared/config.js';
import { Committer, openDatabase, type Db } from '../shared/db.js';
import type { Logger } from '../shared/log.js';
import { listenError } from '../shared/startup.js';
import { ClusterServer } from './cluster-server.js';
import { CHECK_EVERY_MS } from './membership.js';
import { createProxyHttp } from './http.js';
import { JobStore, PROXY_SCHEMA } from './job-store.js';
import { ProxyMetrics } from './metrics.js';
import { createPolicy } from './policies.js';
import { ScheduleStore } from './schedule-store.js';
import { Scheduler } from './scheduler.js';
import { TypeStore } from './type-store.js';

/** How often running tasks of `speculate` jobs are checked for stragglers. */
const SPECULATION_PERIOD_MS = 100;

/** The proxy process: HTTP and the node WebSocket on one port, over one SQLite file. */
export class PetrelProxy {
  readonly db: Db;
  readonly committer: Committer;
  readonly scheduler: Scheduler;
  readonly metrics: ProxyMetrics;
  private readonly http: http.Server;
  private readonly cluster: ClusterServer;
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | undefined;
  port = 0;

  constructor(
    readonly cfg: ProxyConfig,
    private readonly log: Logger,
  ) {
    this.db = openDatabase(cfg.DATA_DIR, 'proxy.db', cfg.DURABILITY, PROXY_SCHEMA);
    this.committer = new Committer(this.db);
    this.committer.onFailure = (err) => this.fail(err);
    this.committer.onDiskFull = (full, err) => {
      // commits wait for space: nodes keep the jobs they forward until the proxy acks them,
      // and results reach their origins once recorded; nothing is refused or lost
      if (full)
        log.error({ err, dataDir: cfg.DATA_DIR }, 'the disk is full: commits wait for space');
      else log.info({ dataDir: cfg.DATA_DIR }, 'disk space is back: commits resumed');
    };
    const store = new JobStore(this.db, this.committer);
    this.metrics = new ProxyMetrics({
      cluster: () => this.scheduler,
      commits: () => this.committer.commits,
      diskFull: () => this.committer.full,
      rejectedFrames: () => this.cluster.rejectedFrames,
      refusedConnections: () => this.cluster.refusedConnections,
    });
    this.scheduler = new Scheduler(
      store,
      this.committer,
      () => createPolicy(cfg.POLICY),
      {
        prefetch: cfg.PREFETCH,
        weights: cfg.TENANT_WEIGHTS,
        dispatchPeriod: cfg.DISPATCH_PERIOD,
        maxJobsPerDispatch: cfg.MAX_NUM_JOBS_DISPATCH,
        phiThreshold: cfg.PHI_THRESHOLD,
        log,
        onFinished: (job) => this.metrics.finished(job),
        schedules: new ScheduleStore(this.db, this.committer),
      },
      new TypeStore(this.db, this.committer),
    );
    this.http = createProxyHttp(this);
    this.cluster = new ClusterServer(this.http, this.scheduler, {
      secret: cfg.CLUSTER_SECRET,
      maxNodes: cfg.MAX_NUM_NODES,
      requestResultPeriod: cfg.REQUEST_RESULT_PERIOD,
      log,
    });
  }

  get clusterServer(): ClusterServer {
    return this.cluster;
  }

  async start(): Promise<void> {
    const { PROXY_HOST: host, PROXY_PORT: port } = this.cfg;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: unknown) =>
        reject(listenError(err, { host, port, portVar: 'PROXY_PORT', hostVar: 'PROXY_HOST' }));
      this.http.once('error', failed);
      this.http.listen(port, host, () => {
        this.http.off('error', failed);
        resolve();
      });
    });
    this.port = (this.http.address() as AddressInfo).port;
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    const timeout = this.cfg.NODE_TIMEOUT;
    every(Math.min(CHECK_EVERY_MS, Math.floor(timeout / 4)), () =>
      this.scheduler.expireSilent(timeout),
    );
    every(SPECULATION_PERIOD_MS, () => this.scheduler.speculate());
    every(this.cfg.REQUEST_RESULT_PERIOD, () =>
      this.scheduler.sweep(this.cfg.REQUEST_RESULT_PERIOD),
    );
    every(Math.min(this.cfg.RESULT_TTL, 60_000), () => {
      const n = this.scheduler.expire(this.cfg.RESULT_TTL);
      if (n > 0) this.log.info({ deleted: n }, 'expired old results');
    });
    if (this.cfg.DISPATCH_PERIOD > 0) {
      every(this.cfg.DISPATCH_PERIOD, () => this.scheduler.periodicDispatch());
    }
    if (!this.cfg.CLUSTER_SECRET) {
      this.log.warn('CLUSTER_SECRET is not set: only nodes on this machine (loopback) may join');
    }
    this.log.info(
      { port: this.port, policy: this.cfg.POLICY, dataDir: this.cfg.DATA_DIR },
      `proxy listening on ${this.cfg.PROXY_HOST}:${this.port} (nodes: /cluster, dashboard: /)`,
    );
  }

  /**
   * Called when the database can no longer be written: the main program stops the process
   * (a restart rebuilds everything from the file). Until set, the failure is only logged.
   */
  onFatal: (err: Error) => void = () => {};

  private fail(err: Error): void {
    this.log.fatal({ err, file: this.db.name }, 'a database write failed; stopping');
    this.onFatal(err);
  }

  /** Stops dispatching, commits everything, closes connections. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const t of this.timers) clearInterval(t);
      this.scheduler.stop();
      await this.cluster.close();
      await new Promise<void>((resolve) => {
        this.http.close(() => resolve());
        this.http.closeAllConnections();
      });
      this.committer.flush();
      this.committer.stop();
      this.db.close();
      this.log.info('proxy stopped');
    })();
    return this.closing;
  }

  /** The cluster as `/api/cluster` and the dashboard show it. */
  snapshot() {
    const s = this.scheduler;
    let assigned = 0;
    let running = 0;
    const nodes = [...s.nodes.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((n) => {
        for (const j of n.jobs) {
          if (j.state === 'running') running++;
          else assigned++;
        }
        return {
          id: n.id,
          connected: Boolean(n.conn),
          slots: n.slots,
          queued: n.queued,
          running: n.running,
          free: n.free,
          outstanding: n.outstanding,
          done: n.done,
          lastSeen: n.lastSeen,
          /** Custom type → its workers' capacity on this node. */
          workers: Object.fromEntries(n.workers),
        };
      });
    return {
      time: Date.now(),
      policy: this.cfg.POLICY,
      queue: { queued: s.queueLength, assigned, running },
      totals: { ...s.counters },
      detector: s.suspicions,
      /** Every custom job type a worker ever registered. */
      types: s.knownTypes(),
      diskFull: this.committer.full,
      nodes,
      tenants: s.tenants(),
    };
  }
}
