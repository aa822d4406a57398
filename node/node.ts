import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { NodeConfig } from '../shared/config.js';
import { DataDirLock } from '../shared/data-dir-lock.js';
import { Committer, openDatabase, type Db } from '../shared/db.js';
import type { Logger } from '../shared/log.js';
import { listenError } from '../shared/startup.js';
import type { Frame, FrameOf } from '../shared/protocol.js';
import { Assignments } from './assignments.js';
import { createClientServer } from './client-port.js';
import { readClusterNumbers } from './cluster-numbers.js';
import type { NodeApi } from './commands.js';
import { Executor } from './executor.js';
import { KnownTypes } from './known-types.js';
import type { RunOutcome } from './job-runner.js';
import { InfoReports } from './info-reports.js';
import type { LineServer } from './line-server.js';
import { serveLog } from './log-serving.js';
import { NodeMetrics } from './metrics.js';
import { LogReader } from './log-reader.js';
import { nodeIdentity, proxySeen, storeProxySeen } from './node-meta.js';
import { mayStartHere, roomHere } from './local-start.js';
import { Origin } from './origin.js';
import { ProxyLink } from './proxy-link.js';
import { RunLogs } from './run-logs.js';
import { NODE_SCHEMA, NODE_SCHEMA_VERSION } from './schema.js';
import { TicketStore } from './ticket-store.js';
import { Upkeep } from './upkeep.js';
import { WorkStore } from './work-store.js';
import { attachWorker, type WorkerDeps } from './worker-session.js';

/**
 * A cluster node: issues tickets to its clients (the origin role, `Origin`), runs what the
 * proxy gives it (the executor role, `Assignments`), and keeps both in its SQLite file so a
 * crash loses nothing. This class wires them to the client port, the proxy link and the
 * executor, and owns the node's lifecycle.
 */
export class PetrelNode {
  readonly nodeId: string;
  private readonly db: Db;
  /** This process's hold on DATA_DIR, taken before the database is opened. */
  private readonly lock: DataDirLock;
  private readonly committer: Committer;
  private readonly tickets: TicketStore;
  private readonly executor: Executor;
  private readonly link: ProxyLink;
  private readonly server: LineServer;
  private readonly origin: Origin;
  private readonly assignments: Assignments;
  /** What clients may ask of this node: the line protocol and the HTTP API both use it. */
  readonly api: NodeApi;
  private readonly runLogs: RunLogs;
  private readonly logReader: LogReader;
  private readonly knownTypes: KnownTypes;
  private readonly info: InfoReports;
  private readonly upkeep: Upkeep;
  private draining = false;
  private closing: Promise<void> | undefined;
  private executed = 0;
  readonly metrics: NodeMetrics;
  clientPort = 0;
  /**
   * Called when the database can no longer be written: the main program stops the process
   * (a restart rebuilds everything from the file). Until set, the failure is only logged.
   */
  onFatal: (err: Error) => void = () => {};

  constructor(
    readonly cfg: NodeConfig,
    private readonly log: Logger,
  ) {
    this.lock = DataDirLock.take(cfg.DATA_DIR, 'petrel-node');
    let opened: Db | undefined;
    try {
      this.db = opened = openDatabase(cfg.DATA_DIR, 'node.db', cfg.DURABILITY, NODE_SCHEMA, {
        schemaVersion: NODE_SCHEMA_VERSION,
      });
      this.committer = new Committer(this.db, { syncOnLoopWhenIdle: true });
      this.committer.onFailure = (err) => {
        this.log.fatal({ err, file: this.db.name }, 'a database write failed; stopping');
        this.onFatal(err);
      };
      this.committer.onDiskFull = (full, err) => {
        if (full) {
          this.log.error(
            { err, dataDir: cfg.DATA_DIR },
            'the disk is full: refusing new jobs, keeping every promise until space returns',
          );
        } else {
          this.log.info({ dataDir: cfg.DATA_DIR }, 'disk space is back: taking new jobs again');
        }
        this.info.sendInfo(); // the proxy gives this node nothing new while its disk is full
      };
      this.nodeId = nodeIdentity(this.db, cfg.NODE_ID, log);
      this.metrics = new NodeMetrics(this.nodeId, () => this.snapshot());
      this.tickets = new TicketStore(this.db, this.committer);
      this.runLogs = new RunLogs(join(cfg.DATA_DIR, 'logs'), cfg.JOB_LOG_LIMIT);
      this.knownTypes = new KnownTypes(this.db, this.committer);
      this.executor = new Executor(
        cfg.SLOTS,
        { execAllow: cfg.EXEC_ALLOW, outputLimit: cfg.JOB_OUTPUT_LIMIT },
        {
          started: (id, at) => this.onStarted(id, at),
          // a run's log is named by the ticket it runs under (a task's own ticket, for a task)
          log: (id) => this.runLogs.start({ ticket: id }),
          finished: (id, o, s, f) => this.onFinished(id, o, s, f),
          lost: (id, ran, why) => this.onLost(id, ran, why),
          typesChanged: () => this.info.sendInfo(),
        },
      );
      this.link = new ProxyLink(
        {
          urls: cfg.PROXY_URLS,
          ...proxySeen(this.db),
          nodeId: this.nodeId,
          slots: cfg.SLOTS,
          heartbeatMs: Math.min(cfg.INFO_PERIOD, 1000),
          labels: cfg.NODE_LABELS,
          cpus: cfg.NODE_CPUS,
          memMb: cfg.NODE_MEM_MB,
          secret: cfg.CLUSTER_SECRET,
          ca: cfg.TLS_CA ? readFileSync(cfg.TLS_CA) : undefined,
          log,
        },
        {
          holds: () => [...this.assignments.holds(), ...this.origin.here.holds()],
          workers: () => this.executor.workerTypes(),
          welcomed: (f, newLeader) => this.onWelcome(f, newLeader),
          seen: (what) => this.committer.write(() => storeProxySeen(this.db, what)),
          frame: (f) => this.onFrame(f),
          down: () => this.origin.armFallback(),
        },
      );
      this.origin = new Origin(this.tickets, this.link, this.executor, {
        nodeId: this.nodeId,
        execAllow: cfg.EXEC_ALLOW,
        localFallbackMs: cfg.LOCAL_FALLBACK,
        claimWaitMs: cfg.CLAIM_WAIT,
        dataDir: resolve(cfg.DATA_DIR),
        customTypeKnown: (t) => this.knownTypes.has(t) || this.executor.workers.serves(t),
        startHere: (spec) =>
          cfg.LOCAL_START && !this.draining && mayStartHere(spec) && roomHere(this.executor),
        maxOpen: cfg.MAX_OPEN_JOBS,
        log,
      });
      this.origin.onTicketFinished = (at, r) => this.metrics.ticketFinished(at, r);
      this.assignments = new Assignments(
        new WorkStore(this.db, this.committer),
        this.link,
        this.executor,
        this.nodeId,
        log,
      );
      this.logReader = new LogReader({
        nodeId: this.nodeId,
        view: (t) => this.origin.view(t),
        local: this.runLogs,
        remote: (req) => this.link.readLog(req),
      });
      this.api = {
        submit: (spec) => this.origin.submitJob(spec).then((s) => s.ticket),
        submitJob: (spec) => this.origin.submitJob(spec),
        view: (t) => this.origin.view(t),
        wait: (t, ms, signal) => this.origin.wait(t, ms, signal),
        cancel: (t) => this.origin.cancel(t),
        list: (limit, state) => this.origin.listing.list(limit, state),
        retry: (t) => this.origin.retry(t),
        listViews: (limit) => this.origin.listing.listViews(limit),
        currentViews: (limit, state) => this.origin.listing.currentViews(limit, state),
        stats: () => this.stats(),
        logs: (t, task) => this.logReader.logs(t, task),
        follow: (v, task, signal) => this.logReader.follow(v, task, signal),
        attachWorker: (type, n, session) => attachWorker(this.workerDeps(), type, n, session),
      };
      this.server = createClientServer(cfg, this.api, log);
      const { link, executor, committer, assignments, origin, tickets, runLogs } = this;
      const draining = () => this.draining;
      this.info = new InfoReports({ link, executor, committer, assignments, draining });
      const sendInfo = () => this.info.sendInfo();
      this.upkeep = new Upkeep({
        cfg,
        link,
        origin,
        assignments,
        executor,
        tickets,
        runLogs,
        db: this.db,
        log,
        sendInfo,
      });
    } catch (err) {
      // a node that cannot start lets its directory go (a test may start another in it)
      opened?.close();
      this.lock.release();
      throw err;
    }
  }

  /** Rebuilds in-memory state from SQLite, then opens the client port and joins the proxy. */
  async start(): Promise<void> {
    this.origin.restore();
    this.assignments.restore();
    const { CLIENT_HOST: host, CLIENT_PORT: port } = this.cfg;
    this.clientPort = await this.server.listen().catch((err: unknown) => {
      throw listenError(err, { host, port, portVar: 'CLIENT_PORT', hostVar: 'CLIENT_HOST' });
    });
    this.link.start();
    this.upkeep.start();
    this.origin.armFallback();
    this.log.info(
      {
        nodeId: this.nodeId,
        port: this.clientPort,
        slots: this.cfg.SLOTS,
        proxy: this.cfg.PROXY_URL,
      },
      `node ${this.nodeId} listening for clients on ${this.cfg.CLIENT_HOST}:${this.clientPort}`,
    );
  }

  /** What a client becoming a worker reads of this node now. */
  private workerDeps(): WorkerDeps {
    const { knownTypes, log, draining } = this;
    return { pool: this.executor.workers, knownTypes, linkReady: this.link.ready, log, draining };
  }

  private async stats(): Promise<unknown> {
    const self = {
      id: this.nodeId,
      slots: this.cfg.SLOTS,
      queued: this.executor.queued,
      running: this.executor.running,
      openTickets: this.origin.openCount,
      proxyConnected: this.link.ready,
      localFallback: this.origin.fallbackActive,
    };
    return { node: self, cluster: await readClusterNumbers(this.link.url) };
  }

  // ---- proxy link --------------------------------------------------------------------------

  private onWelcome(f: FrameOf<'WELCOME'>, newLeader: boolean): void {
    this.upkeep.setResendPeriod(f.requestResultPeriod);
    for (const id of f.drop) this.assignments.drop(id);
    this.knownTypes.learn(f.types);
    this.info.forgetWorkers();
    // everything not yet acknowledged goes again; handlers on the proxy are idempotent
    // a new leader, or a proxy on a restored or new file, lacks acks: every open ticket goes
    this.origin.rejoined(newLeader);
    this.assignments.resendResults(Infinity);
    this.info.sendInfo();
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case 'JOB':
        return this.assignments.dispatched(f.jobs);
      case 'ACK':
        this.origin.acked(f.jobs);
        this.assignments.acked(f.results);
        this.origin.resultsAcked(f.results);
        return;
      case 'RESULT':
        return this.origin.results(f.results);
      case 'CANCEL':
        for (const id of f.ids) if (!this.origin.cancelHere(id)) this.assignments.cancel(id);
        return;
      case 'REQUEST_OF_RES': {
        if (f.reqId !== undefined) {
          // a proxy of a group looking for tickets it never saw: answer for those issued here
          this.link.send({ type: 'RES_REQ', reqId: f.reqId, views: this.origin.ownViews(f.ids) });
          return;
        }
        const { results, missing: gone } = this.assignments.sweep(f.ids);
        const missing = gone.filter((id) => !this.origin.here.unreported(id));
        this.link.send({ type: 'RES_REQ', results, missing, requests: this.origin.waiting() });
        return;
      }
      case 'RES_REQ':
        return this.origin.results(f.results, f.missing);
      case 'LOG_READ':
        return void serveLog(this.runLogs, this.link, f);
      case 'TYPES':
        return this.knownTypes.learn(f.types);
      case 'REOPEN':
        return this.origin.reopen(f.ids);
      default:
        this.log.warn({ type: f.type }, 'unexpected frame from the proxy');
    }
  }

  // ---- executor events ---------------------------------------------------------------------

  private onStarted(id: string, at: number): void {
    this.assignments.onStarted(id, at);
    this.info.scheduleInfo();
  }

  private onFinished(id: string, o: RunOutcome, startedAt: number, finishedAt: number): void {
    this.executed++;
    this.metrics.ran(startedAt, finishedAt);
    if (this.origin.runsLocally(id)) this.origin.finishedLocally(id, o, startedAt, finishedAt);
    else this.assignments.onFinished(id, o, startedAt, finishedAt);
    this.info.scheduleInfo();
  }

  private onLost(id: string, ran: boolean, why: string): void {
    this.log.info({ job: id, why }, 'a job left its worker; placing it again');
    if (this.origin.runsLocally(id)) this.origin.lostLocally(id);
    // a stopping node closed the worker connections itself: that run is not counted as lost
    else this.assignments.lost(id, ran && !this.draining, why);
    this.info.scheduleInfo();
  }

  /** Numbers for /metrics and /healthz. */
  snapshot() {
    return {
      nodeId: this.nodeId,
      proxyConnected: this.link.ready,
      /** New jobs are refused: its disk is full, or it is stopping. */
      diskFull: this.tickets.diskFull,
      draining: this.draining,
      /** Times this node joined the proxy since it started. */
      proxyJoins: this.link.connects,
      localFallback: this.origin.fallbackActive,
      queued: this.executor.queued,
      running: this.executor.running,
      slots: this.cfg.SLOTS,
      openTickets: this.origin.openCount,
      clients: this.server.connections,
      commits: this.committer.commits,
      executed: this.executed,
      ...this.origin.counters,
    };
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * Graceful stop: no new clients or jobs; jobs not yet started go back to the proxy; running
   * ones finish (unless `force`, when they are handed back too); everything is committed.
   */
  close(force = false): Promise<void> {
    if (force && this.closing) {
      this.assignments.handBack(this.executor.abortRunning());
      return this.closing;
    }
    this.closing ??= this.shutdown(force);
    return this.closing;
  }

  private async shutdown(force: boolean): Promise<void> {
    this.draining = true;
    this.origin.close();
    this.assignments.refusing = true;
    this.info.sendInfo();
    this.log.info('stopping: no new jobs; handing back queued work');
    await this.server.close();
    // tickets this node ran locally stay here, accepted, and are forwarded on the next start
    this.assignments.handBack(this.executor.pause());
    if (force) this.assignments.handBack(this.executor.abortRunning());
    // running jobs get DRAIN_TIMEOUT to finish (a container stop allows 10 s); then they are
    // handed back to run elsewhere, as on a second signal
    const drained = await Promise.race([
      this.executor.idle().then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), this.cfg.DRAIN_TIMEOUT).unref()),
    ]);
    if (!drained) {
      this.log.warn(
        { running: this.executor.running },
        'DRAIN_TIMEOUT passed: handing back running jobs',
      );
      this.assignments.handBack(this.executor.abortRunning());
      await this.executor.idle();
    }
    this.runLogs.close();
    this.committer.flush();
    // on a full disk nothing more can be committed; what waits for it was never promised
    if (!this.committer.full) await new Promise<void>((r) => this.committer.afterCommit(() => r()));
    this.link.flush();
    await this.waitForAcks(2000);
    this.upkeep.stop();
    await this.link.close();
    this.committer.flush();
    this.committer.stop();
    this.db.close();
    this.lock.release();
    this.log.info('stopped');
  }

  /** Gives the proxy a moment to acknowledge the last results, so they are not resent. */
  private async waitForAcks(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && this.link.ready) {
      if (!this.assignments.hasUnackedResults() && !this.origin.here.unacked()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
