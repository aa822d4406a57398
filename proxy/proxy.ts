import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ProxyConfig } from '../shared/config.js';
import { DataDirLock } from '../shared/data-dir-lock.js';
import { openDatabase, type Committer, type Db } from '../shared/db.js';
import type { Logger } from '../shared/log.js';
import { listenError } from '../shared/startup.js';
import { nodeRows } from './cluster-view.js';
import { ClusterServer } from './cluster-server.js';
import { carryOver } from './carry-over.js';
import type { EtcdElection } from './etcd-election.js';
import { EtcdGroupWriter, loadGroupState } from './etcd-group-store.js';
import { groupKeys } from './group-state.js';
import { GroupNodeStore, GroupScheduleStore, GroupTypeStore } from './group-stores.js';
import { createProxyHttp } from './http.js';
import { proxyIncarnation } from './incarnation.js';
import { PROXY_SCHEMA, PROXY_SCHEMA_VERSION } from './schema.js';
import { ProxyMetrics } from './metrics.js';
import { Leadership, type LeaderAction } from './leadership.js';
import type { Scheduler } from './scheduler.js';
import { LeaderTerm, type TermStores } from './term.js';

/** SQLite page size of a new proxy database (bytes). */
const PROXY_PAGE_SIZE = 16_384;

/**
 * The proxy process: HTTP and the node WebSocket on one port, over one SQLite file. Alone it
 * schedules from start to stop; in a group (ETCD_ENDPOINTS) it schedules only while it leads,
 * each leadership a fresh `LeaderTerm` rebuilt from the file and from what nodes say.
 */
export class PetrelProxy {
  readonly db: Db;
  /** This process's hold on DATA_DIR, taken before the database is opened. */
  private readonly lock: DataDirLock;
  readonly leadership: Leadership;
  readonly metrics: ProxyMetrics;
  private term: LeaderTerm | undefined;
  private election: EtcdElection | undefined;
  private readonly http: http.Server;
  private readonly cluster: ClusterServer;
  private closing: Promise<void> | undefined;
  private stepDownQueued = false;
  /** The epoch whose term waits for the group state from etcd. */
  private loading: number | undefined;
  port = 0;

  constructor(
    readonly cfg: ProxyConfig,
    private readonly log: Logger,
  ) {
    this.lock = DataDirLock.take(cfg.DATA_DIR, 'petrel-proxy');
    let opened: Db | undefined;
    try {
      // rows of 300-500 bytes, written in batches of hundreds: large pages mean fewer of them to
      // split and to write to the WAL per commit. A statement that changes several rows (an
      // origin's delivered flags) keeps a journal of its pages to undo itself alone; past 64 KiB
      // a file-backed one is written out page by page, in memory it is only a copy.
      this.db = opened = openDatabase(cfg.DATA_DIR, 'proxy.db', cfg.DURABILITY, PROXY_SCHEMA, {
        pageSize: PROXY_PAGE_SIZE,
        tempStore: 'memory',
        schemaVersion: PROXY_SCHEMA_VERSION,
      });
      const incarnation = proxyIncarnation(this.db);
      const group = cfg.ETCD_ENDPOINTS.length > 0;
      this.leadership = new Leadership(
        cfg.PROXY_ADVERTISE_URL ?? '',
        group ? { ttlMs: cfg.ETCD_LEASE_TTL * 1000, marginMs: 100 } : undefined,
      );
      this.metrics = new ProxyMetrics({
        cluster: () => this.activeTerm()?.scheduler,
        commits: () => this.committer?.commits ?? 0,
        diskFull: () => this.committer?.full ?? false,
        rejectedFrames: () => this.cluster.rejectedFrames,
        refusedConnections: () => this.cluster.refusedConnections,
      });
      if (!group) this.term = this.newTerm(0);
      this.http = createProxyHttp(this);
      this.cluster = new ClusterServer(() => this.activeTerm(), {
        secret: cfg.CLUSTER_SECRET,
        maxNodes: cfg.MAX_NUM_NODES,
        requestResultPeriod: cfg.REQUEST_RESULT_PERIOD,
        incarnation,
        refusal: () => this.refusal(),
        otherLeader: () => this.otherLeader(),
        // a dead leader's lease runs out within its time to live, and the election follows
        parkMs: cfg.ETCD_LEASE_TTL * 1000 + 1000,
        log,
      });
    } catch (err) {
      // a proxy that cannot start lets its directory go (a test may start another in it)
      opened?.close();
      this.lock.release();
      throw err;
    }
  }

  /** A new term of this proxy (protected: a test makes one fail to start). */
  protected newTerm(epoch: number, group?: TermStores): LeaderTerm {
    return new LeaderTerm(
      epoch,
      this.db,
      this.cfg,
      this.log,
      () => this.mayAct(),
      (err) => this.fail(err),
      (job) => this.metrics.finished(job),
      group,
    );
  }

  /** The scheduler of the current term (a single proxy always has one). */
  get scheduler(): Scheduler {
    if (!this.term) throw new Error('this proxy is not leading its group');
    return this.term.scheduler;
  }

  /** The current term's committer, for metrics; undefined while following. */
  get committer(): Committer | undefined {
    return this.term?.committer;
  }

  /** The term nodes may join now: none while following or once the claim lapsed. */
  activeTerm(): LeaderTerm | undefined {
    return this.term?.active && this.mayAct() ? this.term : undefined;
  }

  get clusterServer(): ClusterServer {
    return this.cluster;
  }

  /**
   * Whether this proxy may dispatch and commit now. A leader whose claim lapsed (its lease
   * may be gone: it was paused, or cut off from etcd) stops at once, before anything leaves.
   */
  mayAct(): boolean {
    if (this.leadership.mayAct(performance.now())) return true;
    if (this.term?.active || this.loading !== undefined) this.lapse('the leadership claim lapsed');
    return false;
  }

  /** Stops leading (soon, outside the caller's work) and campaigns again. */
  private lapse(why: string): void {
    if (this.stepDownQueued) return;
    this.stepDownQueued = true;
    setImmediate(() => {
      this.stepDownQueued = false;
      this.leadership.lost();
      this.stepDown(why);
      this.election?.restart();
    });
  }

  /** The other proxy known to lead the group, if any. */
  private otherLeader(): string | undefined {
    const leader = this.leadership.leader;
    return leader && leader !== this.leadership.self ? leader : undefined;
  }

  private refusal(): string {
    const leader = this.otherLeader();
    return leader ? `not the leader; leader: ${leader}` : 'not the leader; no leader elected yet';
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
    if (!this.cfg.CLUSTER_SECRET) {
      this.log.warn('CLUSTER_SECRET is not set: only nodes on this machine (loopback) may join');
    }
    if (!this.cfg.DASHBOARD_TOKEN) {
      this.log.info('DASHBOARD_TOKEN is not set: the dashboard shows jobs on this machine only');
    }
    if (this.term) this.term.start();
    else await this.joinGroup();
    this.log.info(
      { port: this.port, policy: this.cfg.POLICY, dataDir: this.cfg.DATA_DIR },
      `proxy listening on ${this.cfg.PROXY_HOST}:${this.port} (nodes: /cluster, dashboard: /)`,
    );
  }

  /** The URL this proxy announces: PROXY_ADVERTISE_URL, else this host's name and port. */
  private advertised(): string {
    return this.cfg.PROXY_ADVERTISE_URL ?? `ws://${hostname()}:${this.port}/cluster`;
  }

  private async joinGroup(): Promise<void> {
    // etcd3 (and gRPC under it) loads only for a group: a single proxy starts as before
    const { EtcdElection } = await import('./etcd-election.js');
    const self = this.advertised();
    this.leadership.rename(self);
    const act = (a: LeaderAction, why: string) => {
      if (a === 'lead') this.lead();
      else if (a === 'step-down') this.stepDown(why);
      else if (a === 'resign') {
        this.stepDown(why);
        this.election?.restart();
      } else if (a === 'campaign-again') {
        this.log.warn('won the election after its lease may have lapsed; campaigning again');
        this.election?.restart();
      }
      this.cluster.leaderChanged();
    };
    this.election = new EtcdElection(
      {
        endpoints: this.cfg.ETCD_ENDPOINTS,
        name: this.cfg.ETCD_PREFIX,
        ttlSeconds: this.cfg.ETCD_LEASE_TTL,
        value: self,
        // a private CA for an https:// etcd (checked readable and PEM at start)
        ca: this.cfg.TLS_CA ? readFileSync(this.cfg.TLS_CA) : undefined,
        log: this.log,
      },
      {
        elected: (epoch, grantedAt) =>
          act(this.leadership.elected(epoch, grantedAt, performance.now()), 'elected'),
        observed: (leader, epoch) =>
          act(this.leadership.observed(leader, epoch), `${leader} leads (epoch ${epoch})`),
        lost: (err) => act(this.leadership.lost(), `etcd: ${err.message}`),
        keepaliveSent: (at) => this.leadership.keepaliveSent(at),
        keepaliveConfirmed: () => this.leadership.keepaliveConfirmed(),
        keepaliveFailed: () => this.leadership.keepaliveFailed(),
      },
    );
    this.election.start();
    this.log.info(
      { etcd: this.cfg.ETCD_ENDPOINTS, election: this.cfg.ETCD_PREFIX, url: self },
      'campaigning for leadership in the proxy group',
    );
  }

  /**
   * Elected: the term starts once the group's schedules and types are read from etcd (nodes
   * wait for it). A proxy that cannot read them hands leadership on.
   */
  private lead(): void {
    const epoch = this.leadership.epoch;
    const election = this.election;
    this.term?.abandon();
    this.term = undefined;
    if (!election) return;
    this.loading = epoch;
    const current = () => this.loading === epoch && !this.closing;
    this.groupStores(election, epoch).then(
      (stores) => {
        if (!current()) return;
        const may = this.leadership.epoch === epoch && this.mayAct();
        this.loading = undefined;
        if (!may) return;
        try {
          this.term = this.newTerm(epoch, stores);
          this.term.start();
        } catch (err) {
          // holding the lease without a term would keep every other proxy from leading
          this.term?.abandon();
          this.log.error({ err, epoch }, 'cannot start leading; handing leadership on');
          this.lapse('the term could not start');
          return;
        }
        this.log.info({ epoch }, 'leading the proxy group');
        this.cluster.leaderChanged();
      },
      (err: unknown) => {
        if (!current()) return;
        this.loading = undefined;
        if (this.leadership.epoch !== epoch) return;
        this.log.error({ err }, 'cannot read the group state from etcd; handing leadership on');
        this.lapse('the group state could not be read');
      },
    );
  }

  /** The leader's stores for schedules and types, read from etcd and written there, fenced. */
  private async groupStores(election: EtcdElection, epoch: number): Promise<TermStores> {
    const fence = election.fence;
    if (fence?.epoch !== epoch) throw new Error(`no campaign of epoch ${epoch}`);
    const keys = groupKeys(this.cfg.ETCD_PREFIX);
    const loaded = await loadGroupState(election.client, keys, this.log);
    const writer = new EtcdGroupWriter(
      election.client,
      fence,
      () => this.leadership.epoch === epoch && this.mayAct(),
      () => this.lapse('etcd refused a write: the election key is gone'),
      this.log,
    );
    this.log.info(
      { schedules: loaded.schedules.length, types: loaded.types.length },
      'read the group state from etcd',
    );
    const state = await carryOver(this.db, writer, keys, loaded, this.log);
    return {
      schedules: new GroupScheduleStore(writer, keys, state.schedules),
      types: new GroupTypeStore(writer, keys, state.types),
      nodes: new GroupNodeStore(writer, keys, loaded.nodes ?? []),
    };
  }

  /** Stops scheduling at once: nothing more is written or sent; nodes are told to move. */
  private stepDown(why: string): void {
    const loading = this.loading;
    this.loading = undefined;
    const term = this.term;
    if (!term?.active) {
      if (loading !== undefined) this.log.warn({ epoch: loading, why }, 'no longer taking over');
      return;
    }
    term.abandon();
    this.cluster.closeAll(4010, this.refusal());
    this.log.warn({ epoch: term.epoch, why }, 'no longer leading the proxy group');
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
      if (this.term?.active && this.mayAct()) this.term.close();
      else this.term?.abandon();
      await this.cluster.close();
      this.term?.finish(); // writes of the connections' last frames, while still allowed
      await this.election?.close();
      await new Promise<void>((resolve) => {
        this.http.close(() => resolve());
        this.http.closeAllConnections();
      });
      this.db.close();
      this.lock.release();
      this.log.info('proxy stopped');
    })();
    return this.closing;
  }

  /** The cluster as `/api/cluster` and the dashboard show it. */
  snapshot() {
    const group = this.groupView();
    const s = this.term?.active ? this.term.scheduler : undefined;
    if (!s) {
      return {
        time: Date.now(),
        policy: this.cfg.POLICY,
        group,
        queue: { queued: 0, assigned: 0, running: 0 },
        totals: {},
        nodes: [],
      };
    }
    const { nodes, assigned, running } = nodeRows(s.nodes.values());
    return {
      time: Date.now(),
      policy: this.cfg.POLICY,
      group,
      queue: { queued: s.queueLength, assigned, running },
      totals: { ...s.counters },
      detector: s.suspicions,
      /** Every custom job type a worker ever registered. */
      types: s.knownTypes(),
      diskFull: this.committer?.full ?? false,
      nodes,
      tenants: s.tenants(),
    };
  }

  /** This proxy's place in its group (undefined for a single proxy). */
  groupView(): { role: 'leader' | 'follower'; leader: string | null; epoch: number } | undefined {
    const st = this.leadership.state;
    if (st.role === 'single') return undefined;
    const leading = Boolean(this.activeTerm());
    return {
      role: leading ? 'leader' : 'follower',
      leader: this.leadership.leader ?? null,
      epoch: leading ? this.leadership.epoch : 0,
    };
  }
}
