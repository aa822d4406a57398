import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { NodeConfig } from '../shared/config.js';
import { Committer, openDatabase, type Db } from '../shared/db.js';
import { WireError } from '../shared/errors.js';
import { newTicket } from '../shared/ids.js';
import { isTerminal, type JobResult, type JobSpec, type JobView } from '../shared/job.js';
import type { Logger } from '../shared/log.js';
import { MAX_BATCH, type Frame, type FrameOf, type WireJob } from '../shared/protocol.js';
import { createCommandHandler } from './commands.js';
import { Executor } from './executor.js';
import { execRefusal, type RunOutcome } from './job-runner.js';
import { LineServer } from './line-server.js';
import { ProxyLink } from './proxy-link.js';
import { NODE_SCHEMA } from './schema.js';
import { TicketStore, type TicketState } from './ticket-store.js';
import { WorkStore, type WorkRow } from './work-store.js';

const MAX_LINE_BYTES = 64 * 1024;

/** A ticket issued here that is not terminal yet. */
interface OpenTicket {
  id: string;
  spec: JobSpec;
  submittedAt: number;
  state: 'accepted' | 'forwarded';
  /** Running here under LOCAL_FALLBACK. */
  local: boolean;
}

/** A job given to this node to run. */
interface Work {
  id: string;
  spec: JobSpec;
  origin: string;
  submittedAt: number;
  attempt: number;
  state: WorkRow['state'];
  result: JobResult | null;
  /** Whether its row exists (or is written by a statement already queued). */
  stored?: boolean;
}

function viewOfResult(id: string, spec: JobSpec, submittedAt: number, r: JobResult): JobView {
  return {
    ticket: id,
    state: r.state,
    exitCode: r.exitCode,
    output: r.output,
    error: r.error,
    node: r.node,
    attempts: r.attempt,
    submittedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    type: spec.type,
    args: spec.args,
  };
}

function resultOf(
  id: string,
  node: string,
  attempt: number,
  o: RunOutcome,
  startedAt: number | null,
  finishedAt: number,
): JobResult {
  return {
    id,
    state: o.state,
    exitCode: o.exitCode,
    output: o.output,
    error: o.error,
    node,
    attempt,
    startedAt,
    finishedAt,
  };
}

/**
 * A cluster node: issues tickets to its clients (origin role), runs what the proxy gives it
 * (executor role), and keeps both in its SQLite file so a crash loses nothing.
 */
export class PetrelNode {
  readonly nodeId: string;
  private readonly db: Db;
  private readonly committer: Committer;
  private readonly tickets: TicketStore;
  private readonly workStore: WorkStore;
  private readonly executor: Executor;
  private readonly link: ProxyLink;
  private readonly server: LineServer;
  private readonly open = new Map<string, OpenTicket>();
  private readonly work = new Map<string, Work>();
  private readonly waiters = new Map<string, Set<(v: JobView) => void>>();
  private startedSinceInfo: Array<{ id: string; at: number }> = [];
  private infoScheduled = false;
  private infoTimer: NodeJS.Timeout | undefined;
  private resendTimer: NodeJS.Timeout | undefined;
  private fallbackTimer: NodeJS.Timeout | undefined;
  private expireTimer: NodeJS.Timeout | undefined;
  private fallbackActive = false;
  private draining = false;
  private closing: Promise<void> | undefined;
  private resendPeriod = 3000;
  clientPort = 0;
  /** Counters exposed on /metrics. */
  readonly counters = { submitted: 0, executed: 0, localRuns: 0, fallbacks: 0 };

  constructor(
    readonly cfg: NodeConfig,
    private readonly log: Logger,
  ) {
    this.db = openDatabase(cfg.DATA_DIR, 'node.db', cfg.DURABILITY, NODE_SCHEMA);
    this.committer = new Committer(this.db);
    this.nodeId = this.identity();
    this.tickets = new TicketStore(this.db, this.committer);
    this.workStore = new WorkStore(this.db, this.committer);
    this.executor = new Executor(
      cfg.SLOTS,
      { execAllow: cfg.EXEC_ALLOW, outputLimit: cfg.JOB_OUTPUT_LIMIT },
      {
        started: (id, at) => this.onStarted(id, at),
        finished: (id, o, s, f) => this.onFinished(id, o, s, f),
      },
    );
    this.link = new ProxyLink(
      {
        url: cfg.PROXY_URL,
        nodeId: this.nodeId,
        slots: cfg.SLOTS,
        labels: [],
        secret: cfg.CLUSTER_SECRET,
        ca: cfg.TLS_CA ? readFileSync(cfg.TLS_CA) : undefined,
        log,
      },
      {
        holds: () => this.holds(),
        welcomed: (f) => this.onWelcome(f),
        frame: (f) => this.onFrame(f),
        down: () => this.onProxyDown(),
      },
    );
    const handler = createCommandHandler(this.api(), {
      clientToken: cfg.CLIENT_TOKEN,
      maxAuthFailures: 3,
      listLimit: 1000,
      defaultWaitMs: 30_000,
      maxWaitMs: 3_600_000,
    });
    this.server = new LineServer(
      {
        host: cfg.CLIENT_HOST,
        port: cfg.CLIENT_PORT,
        maxClients: cfg.MAX_CLIENTS,
        maxLineBytes: MAX_LINE_BYTES,
        maxPending: 1024,
        maxUnsentBytes: 1024 * 1024,
        idleTimeoutMs: cfg.CLIENT_IDLE_TIMEOUT,
        tls:
          cfg.TLS_CERT && cfg.TLS_KEY
            ? { cert: readFileSync(cfg.TLS_CERT), key: readFileSync(cfg.TLS_KEY) }
            : undefined,
        log,
      },
      handler,
    );
  }

  /** NODE_ID if set, else the id generated on first start and kept in the database. */
  private identity(): string {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'node_id'").get() as
      { value: string } | undefined;
    if (this.cfg.NODE_ID) {
      if (row && row.value !== this.cfg.NODE_ID) {
        this.log.warn(
          { was: row.value, now: this.cfg.NODE_ID },
          'NODE_ID differs from the stored id',
        );
      }
      this.db
        .prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('node_id', ?)")
        .run(this.cfg.NODE_ID);
      return this.cfg.NODE_ID;
    }
    if (row) return row.value;
    const id = `node-${randomBytes(4).toString('hex')}`;
    this.db.prepare("INSERT INTO meta (key, value) VALUES ('node_id', ?)").run(id);
    return id;
  }

  /** Rebuilds in-memory state from SQLite, then opens the client port and joins the proxy. */
  async start(): Promise<void> {
    for (const t of this.tickets.open()) {
      if (t.state === 'accepted' || t.state === 'forwarded') {
        this.open.set(t.id, { ...t, state: t.state, local: false });
      }
    }
    for (const w of this.workStore.all()) {
      this.work.set(w.id, { ...w, stored: true });
      // a job that was running when the process died runs again: execution is at-least-once
      if (w.state !== 'finished') this.executor.enqueue(w.id, w.spec);
    }
    this.clientPort = await this.server.listen();
    this.link.start();
    this.infoTimer = setInterval(() => this.sendInfo(), this.cfg.INFO_PERIOD);
    this.infoTimer.unref();
    this.resendTimer = setInterval(() => this.resendStale(), 1000);
    this.resendTimer.unref();
    this.expireTimer = setInterval(() => this.expire(), Math.min(this.cfg.RESULT_TTL, 60_000));
    this.expireTimer.unref();
    this.armFallback();
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

  // ---- origin role -------------------------------------------------------------------------

  private api() {
    return {
      submit: (spec: JobSpec) => this.submit(spec),
      view: (t: string) => this.view(t),
      wait: (t: string, ms: number, signal: AbortSignal) => this.wait(t, ms, signal),
      cancel: (t: string) => this.cancel(t),
      list: (limit: number) =>
        this.tickets.recent(limit).map((r) => ({ id: r.id, state: clientState(r.state) })),
      listViews: (limit: number) =>
        this.tickets.recentRows(limit).map((row) =>
          row.result
            ? viewOfResult(row.id, row.spec, row.submittedAt, row.result)
            : {
                ticket: row.id,
                state: clientState(row.state),
                attempts: 0,
                submittedAt: row.submittedAt,
                type: row.spec.type,
                args: row.spec.args,
              },
        ),
      stats: () => this.stats(),
    };
  }

  private submit(spec: JobSpec): Promise<string> {
    if (this.draining) {
      return Promise.reject(new WireError('UNAVAILABLE', 'this node is shutting down'));
    }
    if (spec.type === 'exec') {
      const why = execRefusal(spec.args[0] ?? '', this.cfg.EXEC_ALLOW);
      if (why) return Promise.reject(new WireError('FORBIDDEN', why));
    }
    const submittedAt = Date.now();
    const id = newTicket(submittedAt);
    const t: OpenTicket = { id, spec, submittedAt, state: 'accepted', local: false };
    this.open.set(id, t);
    // The job travels to the proxy while its ticket commits here: only the ticket's reply
    // must wait for the commit. Should the commit fail, the proxy runs a job nobody holds a
    // ticket for, and its result is acknowledged and dropped.
    if (this.fallbackActive) this.runLocally(t);
    else this.link.forward(this.wireJob(t));
    return new Promise((resolve, reject) => {
      this.tickets.insert(id, spec, submittedAt, (err) => {
        if (err) {
          this.open.delete(id);
          this.log.error({ err }, 'could not commit a ticket');
          reject(new WireError('UNAVAILABLE', 'could not store the job, try again'));
          return;
        }
        this.counters.submitted++;
        resolve(id);
      });
    });
  }

  private wireJob(t: OpenTicket, result?: JobResult): WireJob {
    return { id: t.id, spec: t.spec, origin: this.nodeId, submittedAt: t.submittedAt, result };
  }

  private localView(id: string): JobView | null {
    const o = this.open.get(id);
    if (o) {
      return {
        ticket: id,
        state: 'queued',
        attempts: 0,
        submittedAt: o.submittedAt,
        type: o.spec.type,
        args: o.spec.args,
      };
    }
    const row = this.tickets.get(id);
    if (!row) return null;
    if (row.result) return viewOfResult(id, row.spec, row.submittedAt, row.result);
    return {
      ticket: id,
      state: clientState(row.state),
      attempts: 0,
      submittedAt: row.submittedAt,
      type: row.spec.type,
      args: row.spec.args,
    };
  }

  /** Local tickets answer from here (asking the proxy whether an open one runs yet). */
  private async view(id: string): Promise<JobView | null> {
    const local = this.localView(id);
    if (local && isTerminal(local.state)) return local;
    if (local) {
      if (this.open.get(id)?.state !== 'forwarded' || !this.link.ready) return local;
      const remote = await this.link.request('lookup', [id]).catch(() => []);
      const r = remote[0];
      return r && r.ticket === id ? { ...r, type: local.type, args: local.args } : local;
    }
    const remote = await this.link.request('lookup', [id]);
    return remote.find((v) => v.ticket === id) ?? null;
  }

  private async wait(
    id: string,
    ms: number,
    signal: AbortSignal,
  ): Promise<JobView | null | 'timeout'> {
    const deadline = Date.now() + ms;
    if (signal.aborted) return 'timeout'; // the client already left
    if (this.open.has(id)) {
      // this node's own ticket: its result is pushed here, no need to ask the proxy
      return new Promise((resolve) => {
        let set = this.waiters.get(id);
        if (!set) this.waiters.set(id, (set = new Set()));
        const done = (v: JobView | 'timeout') => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          set.delete(waiter);
          if (set.size === 0) this.waiters.delete(id);
          resolve(v);
        };
        const waiter = (v: JobView) => done(v);
        const onAbort = () => done('timeout');
        const timer = setTimeout(() => done('timeout'), ms);
        set.add(waiter);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    const first = await this.view(id);
    if (!first || isTerminal(first.state)) return first;
    // another node's ticket: poll the proxy, backing off, until it ends or time runs out
    let delay = 20;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || signal.aborted) return 'timeout';
      await new Promise((r) => setTimeout(r, Math.min(delay, left)));
      delay = Math.min(delay * 2, 500);
      const v = await this.view(id).catch(() => undefined);
      if (v && isTerminal(v.state)) return v;
    }
  }

  private async cancel(id: string): Promise<JobView | null> {
    const o = this.open.get(id);
    if (o && o.state === 'accepted' && !o.local) {
      // not yet acknowledged by the proxy: decide here and tell the proxy when it acks
      const now = Date.now();
      const r: JobResult = {
        id,
        state: 'cancelled',
        exitCode: null,
        output: '',
        error: 'cancelled by a client',
        node: null,
        attempt: 0,
        startedAt: null,
        finishedAt: now,
      };
      await new Promise<void>((resolve) => this.finishTicket(r, false, resolve));
      return this.localView(id);
    }
    if (o?.local) {
      this.executor.cancel(id);
      return { ...(this.localView(id) as JobView), state: 'running' };
    }
    const local = this.localView(id);
    if (local && isTerminal(local.state)) return local;
    const views = await this.link.request('cancel', [id]);
    return views.find((v) => v.ticket === id) ?? local;
  }

  /** Records a ticket's terminal result, wakes its waiters, then calls `after`. */
  private finishTicket(r: JobResult, reported: boolean, after?: () => void): void {
    const o = this.open.get(r.id);
    if (!o) {
      after?.();
      return;
    }
    this.open.delete(r.id);
    const wake = () => {
      const set = this.waiters.get(r.id);
      if (!set) return;
      const v = viewOfResult(r.id, o.spec, o.submittedAt, r);
      for (const w of [...set]) w(v);
    };
    // A result from the proxy is already durable there (it pushes it again until this node
    // acks), so waiting clients hear it at once; one decided here is told only once committed.
    if (reported) wake();
    this.tickets.finish(r, reported, () => {
      if (!reported) {
        wake();
        if (this.link.ready) this.link.forward(this.wireJob(o, r));
      }
      after?.();
    });
  }

  private async stats(): Promise<unknown> {
    const self = {
      id: this.nodeId,
      slots: this.cfg.SLOTS,
      queued: this.executor.queued,
      running: this.executor.running,
      openTickets: this.open.size,
      proxyConnected: this.link.ready,
      localFallback: this.fallbackActive,
    };
    let cluster: unknown = null;
    try {
      const url = new URL(this.cfg.PROXY_URL);
      url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
      url.pathname = '/api/cluster';
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) cluster = await res.json();
    } catch {
      // the proxy is unreachable: the node still reports itself
    }
    return { node: self, cluster };
  }

  // ---- proxy link --------------------------------------------------------------------------

  private holds(): FrameOf<'HELLO'>['holds'] {
    return [...this.work.values()].map((w) => ({ id: w.id, state: w.state, attempt: w.attempt }));
  }

  private onWelcome(f: FrameOf<'WELCOME'>): void {
    if (this.resendPeriod !== f.requestResultPeriod) {
      this.resendPeriod = f.requestResultPeriod;
      clearInterval(this.resendTimer);
      this.resendTimer = setInterval(() => this.resendStale(), Math.min(1000, this.resendPeriod));
      this.resendTimer.unref();
    }
    clearTimeout(this.fallbackTimer);
    if (this.fallbackActive) {
      this.fallbackActive = false;
      this.log.info('the proxy is back: leaving local fallback');
    }
    for (const id of f.drop) this.dropWork(id);
    // everything not yet acknowledged goes again; handlers on the proxy are idempotent
    for (const t of this.open.values()) {
      if (t.state === 'accepted' && !t.local) this.link.forward(this.wireJob(t));
    }
    for (const row of this.tickets.unreported()) {
      if (row.result) {
        this.link.forward({
          id: row.id,
          spec: row.spec,
          origin: this.nodeId,
          submittedAt: row.submittedAt,
          result: row.result,
        });
      }
    }
    for (const w of this.work.values()) if (w.result) this.link.result(w.result);
    this.sendInfo();
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case 'JOB':
        return this.onDispatch(f.jobs);
      case 'ACK':
        return this.onAck(f.jobs, f.results);
      case 'RESULT':
        return this.onResults(f.results);
      case 'CANCEL':
        for (const id of f.ids) this.cancelWork(id);
        return;
      case 'REQUEST_OF_RES':
        return this.onSweep(f.ids);
      case 'RES_REQ':
        for (const r of f.results) this.onResults([r]);
        return;
      default:
        this.log.warn({ type: f.type }, 'unexpected frame from the proxy');
    }
  }

  private onAck(jobs: string[], results: string[]): void {
    const forwarded: string[] = [];
    const reported: string[] = [];
    for (const id of jobs) {
      const o = this.open.get(id);
      if (o && o.state === 'accepted') {
        o.state = 'forwarded';
        forwarded.push(id);
      } else if (!o) reported.push(id);
    }
    if (forwarded.length) this.tickets.markForwarded(forwarded);
    if (reported.length) this.tickets.markReported(reported);
    const done: string[] = [];
    for (const id of results) {
      const w = this.work.get(id);
      if (w && w.state === 'finished') {
        this.work.delete(id);
        done.push(id);
      }
    }
    if (done.length) this.workStore.remove(done);
  }

  /** Final results for tickets issued here, pushed by the proxy. */
  private onResults(results: JobResult[]): void {
    const acks: string[] = [];
    let pending = 0;
    for (const r of results) {
      if (!this.open.has(r.id)) {
        acks.push(r.id); // already recorded, or expired: acknowledging is harmless
        continue;
      }
      pending++;
      this.finishTicket(r, true, () => {
        acks.push(r.id);
        if (--pending === 0) this.link.ackResults(acks);
      });
    }
    if (pending === 0 && acks.length) this.link.ackResults(acks);
  }

  private onDispatch(jobs: WireJob[]): void {
    const acks: string[] = [];
    const refused: string[] = [];
    let pending = 0;
    for (const j of jobs) {
      if (this.work.has(j.id)) {
        acks.push(j.id); // a resent dispatch
        continue;
      }
      if (this.draining) {
        refused.push(j.id); // crossed our INFO saying we are stopping: hand it straight back
        continue;
      }
      const w: Work = {
        id: j.id,
        spec: j.spec,
        origin: j.origin,
        submittedAt: j.submittedAt,
        attempt: j.attempt ?? 1,
        state: 'queued',
        result: null,
      };
      this.work.set(j.id, w);
      pending++;
      this.workStore.insert(w, (err) => {
        if (err) {
          this.log.error({ err }, 'could not commit dispatched work');
          this.dropWork(j.id); // unacknowledged: the proxy sends it again or elsewhere
        } else acks.push(j.id);
        if (--pending === 0 && acks.length) this.link.ackJobs(acks);
      });
      // It may start before its row commits (a quick job then commits its result in the same
      // transaction): only the ACK, the promise to the proxy, waits for the commit.
      this.executor.enqueue(j.id, j.spec);
    }
    if (pending === 0 && acks.length) this.link.ackJobs(acks);
    if (refused.length) this.link.send({ type: 'RES_REQ', missing: refused });
  }

  private onSweep(ids: string[]): void {
    const results: JobResult[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const w = this.work.get(id);
      if (!w) missing.push(id);
      else if (w.result) results.push(w.result);
    }
    const requests: string[] = [];
    for (const t of this.open.values()) {
      if (t.state === 'forwarded') requests.push(t.id);
      if (requests.length >= MAX_BATCH) break;
    }
    this.link.send({ type: 'RES_REQ', results, requests, missing });
  }

  private onProxyDown(): void {
    this.armFallback();
  }

  private armFallback(): void {
    clearTimeout(this.fallbackTimer);
    if (this.cfg.LOCAL_FALLBACK <= 0 || this.link.ready) return;
    this.fallbackTimer = setTimeout(() => this.enterFallback(), this.cfg.LOCAL_FALLBACK);
    this.fallbackTimer.unref();
  }

  /** The proxy has been away too long: run this node's own waiting tickets here. */
  private enterFallback(): void {
    if (this.link.ready || this.draining) return;
    this.fallbackActive = true;
    this.counters.fallbacks++;
    let n = 0;
    for (const t of this.open.values()) {
      if (t.state === 'accepted' && !t.local) {
        this.runLocally(t);
        n++;
      }
    }
    this.log.warn({ jobs: n }, 'no proxy for LOCAL_FALLBACK: running this node’s own jobs here');
  }

  private runLocally(t: OpenTicket): void {
    t.local = true;
    this.counters.localRuns++;
    this.executor.enqueue(t.id, t.spec);
  }

  // ---- executor role -----------------------------------------------------------------------

  private onStarted(id: string, at: number): void {
    const w = this.work.get(id);
    if (w) {
      // kept in memory: after a crash the job runs again whatever its row says
      w.state = 'running';
      this.startedSinceInfo.push({ id, at });
    }
    this.scheduleInfo();
  }

  private onFinished(id: string, o: RunOutcome, startedAt: number, finishedAt: number): void {
    this.counters.executed++;
    const t = this.open.get(id);
    if (t?.local) {
      this.finishTicket(resultOf(id, this.nodeId, 1, o, startedAt, finishedAt), false);
      this.scheduleInfo();
      return;
    }
    const w = this.work.get(id);
    if (w && !w.result) {
      const r = resultOf(id, this.nodeId, w.attempt, o, startedAt, finishedAt);
      w.state = 'finished';
      w.result = r;
      // The result leaves at once: it promises nothing until the proxy commits it. The local
      // row only lets this node send it again after a crash (without it, the job reruns).
      this.link.result(r);
      if (w.stored) this.workStore.finished(r);
      // else: the insert still queued writes the result too
    }
    this.scheduleInfo();
  }

  private cancelWork(id: string): void {
    const w = this.work.get(id);
    if (!w || w.result) return;
    if (this.executor.cancel(id) === 'queued') {
      this.onFinished(
        id,
        { state: 'cancelled', exitCode: null, output: '', error: 'cancelled' },
        0,
        Date.now(),
      );
    }
  }

  private dropWork(id: string): void {
    this.executor.cancel(id, true);
    if (this.work.delete(id)) this.workStore.remove([id]);
  }

  private scheduleInfo(): void {
    if (this.infoScheduled) return;
    this.infoScheduled = true;
    setImmediate(() => {
      this.infoScheduled = false;
      this.sendInfo();
    });
  }

  private sendInfo(): void {
    const started = this.startedSinceInfo;
    if (!this.link.ready) return;
    this.startedSinceInfo = [];
    this.link.send({
      type: 'INFO',
      queued: this.executor.queued,
      running: this.executor.running,
      free: this.executor.free,
      draining: this.draining || undefined,
      started: started.slice(0, MAX_BATCH),
    });
  }

  /** Repairs lost frames: what is still unacknowledged goes again every period. */
  private resendStale(): void {
    if (!this.link.ready) return;
    const now = Date.now();
    if (now - this.lastResend < this.resendPeriod) return;
    this.lastResend = now;
    for (const t of this.open.values()) {
      if (t.state === 'accepted' && !t.local && now - t.submittedAt > this.resendPeriod) {
        this.link.forward(this.wireJob(t));
      }
    }
    for (const w of this.work.values()) {
      if (w.result && now - w.result.finishedAt > this.resendPeriod) this.link.result(w.result);
    }
  }
  private lastResend = 0;

  private expire(): void {
    const n = this.tickets.expire(Date.now() - this.cfg.RESULT_TTL);
    if (n > 0) this.log.info({ deleted: n }, 'expired old results');
  }

  /** Numbers for /metrics and /healthz. */
  snapshot() {
    return {
      nodeId: this.nodeId,
      proxyConnected: this.link.ready,
      localFallback: this.fallbackActive,
      queued: this.executor.queued,
      running: this.executor.running,
      slots: this.cfg.SLOTS,
      openTickets: this.open.size,
      clients: this.server.connections,
      commits: this.committer.commits,
      ...this.counters,
    };
  }

  /**
   * Graceful stop: no new clients or jobs; jobs not yet started go back to the proxy; running
   * ones finish (unless `force`, when they are handed back too); everything is committed.
   */
  close(force = false): Promise<void> {
    if (force && this.closing) {
      this.handBack(this.executor.abortRunning());
      return this.closing;
    }
    this.closing ??= this.shutdown(force);
    return this.closing;
  }

  /**
   * Gives jobs back to the proxy ("missing": this node no longer holds them, re-queue them).
   * The rows go in a deferred write: should this node die first, its HELLO still lists them
   * and the proxy tells it to drop the copies it gave to others.
   */
  private handBack(ids: string[]): void {
    const mine = ids.filter((id) => this.work.has(id));
    if (mine.length === 0) return;
    for (const id of mine) this.work.delete(id);
    this.workStore.remove(mine);
    this.link.send({ type: 'RES_REQ', missing: mine });
  }

  private async shutdown(force: boolean): Promise<void> {
    this.draining = true;
    this.sendInfo();
    this.log.info('stopping: no new jobs; handing back queued work');
    await this.server.close();
    const waiting = this.executor.pause();
    // tickets this node ran locally stay here, accepted, and are forwarded on the next start
    this.handBack(waiting.filter((id) => this.work.has(id)));
    if (force) this.handBack(this.executor.abortRunning());
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
      this.handBack(this.executor.abortRunning());
      await this.executor.idle();
    }
    this.committer.flush();
    await new Promise<void>((r) => this.committer.afterCommit(() => r()));
    this.link.flush();
    await this.waitForAcks(2000);
    clearInterval(this.infoTimer);
    clearInterval(this.resendTimer);
    clearInterval(this.expireTimer);
    clearTimeout(this.fallbackTimer);
    await this.link.close();
    this.committer.flush();
    this.db.close();
    this.log.info('stopped');
  }

  /** Gives the proxy a moment to acknowledge the last results, so they are not resent. */
  private async waitForAcks(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && this.link.ready) {
      if (![...this.work.values()].some((w) => w.result)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function clientState(s: TicketState): JobView['state'] {
  return s === 'accepted' || s === 'forwarded' ? 'queued' : s;
}
