import WebSocket from 'ws';
import { withCork } from '../shared/batcher.js';
import { newTicket } from '../shared/ids.js';
import type { JobResult } from '../shared/job-view.js';
import {
  MAX_BATCH,
  PROTOCOL_VERSION,
  type Frame,
  type FrameIn,
  type WireJob,
} from '../shared/protocol.js';
import { chunks } from './frame-chunks.js';
import { Samples } from './stats.js';

/**
 * A fleet of light fake nodes in one process, speaking the real cluster protocol to one
 * proxy: join (CHALLENGE → HELLO → WELCOME), heartbeat INFO, run dispatched `echo` jobs
 * instantly (ACK, then RESULT), acknowledge results pushed to them as origins, and answer
 * the reconciliation sweep. Some of them also act as origins and forward client jobs.
 * Frames out of one node are batched per tick, as the real node does.
 */

export interface FleetOptions {
  readonly url: string;
  readonly count: number;
  readonly slots: number;
  readonly infoPeriodMs: number;
  readonly idPrefix?: string;
  readonly connectTimeoutMs?: number;
}

/** Fleet-wide counters; the scenario reads them at window boundaries. */
export interface FleetCounters {
  dispatched: number;
  resultsSent: number;
  forwarded: number;
  forwardAcks: number;
  resultsAtOrigin: number;
  duplicatesAtOrigin: number;
  sweeps: number;
  closes: number;
  /** Frames the proxy sent to the fleet, and the fleet to the proxy (heartbeat INFOs too). */
  framesIn: number;
  framesOut: number;
  /** INFO frames that carried no started runs: the heartbeat alone. */
  heartbeats: number;
}

/** How many INFO ticks a heartbeat period is split into, so 1,000 nodes do not beat at once. */
const HEARTBEAT_STEPS = 10;

/**
 * A node that runs every job at once: like a real node, it reports each by its RESULT alone (a
 * result sent before the job's row commits makes the ACK and the INFO's start needless).
 */
class FakeNode {
  private ackResults: string[] = [];
  private results: JobResult[] = [];
  private forwards: WireJob[] = [];
  private sendInfo = false;
  private scheduled = false;
  /** Results sent but not yet acknowledged by the proxy (for the sweep). */
  private readonly unacked = new Map<string, JobResult>();
  /** Jobs this node forwarded as origin, with the time they were forwarded. */
  readonly own = new Map<string, number>();
  welcomed = false;
  window = 0;

  constructor(
    readonly id: string,
    private readonly ws: WebSocket,
    private readonly fleet: FakeFleet,
  ) {}

  onFrame(frame: Frame): void {
    switch (frame.type) {
      case 'CHALLENGE':
        this.send({
          type: 'HELLO',
          version: PROTOCOL_VERSION,
          nodeId: this.id,
          slots: this.fleet.options.slots,
          labels: [],
          proof: null,
          holds: [],
        });
        return;
      case 'WELCOME':
        this.welcomed = true;
        this.fleet.onWelcome();
        return;
      case 'JOB':
        this.runJobs(frame.jobs);
        return;
      case 'ACK':
        // the proxy may leave out an empty list (the schema defaults it)
        this.fleet.counters.forwardAcks += frame.jobs?.length ?? 0;
        for (const id of frame.results ?? []) this.unacked.delete(id);
        return;
      case 'RESULT':
        this.receiveResults(frame.results);
        return;
      case 'REQUEST_OF_RES':
        if (frame.reqId === undefined) this.answerSweep(frame.ids);
        return;
      default:
        return;
    }
  }

  private runJobs(jobs: readonly WireJob[]): void {
    const now = Date.now();
    for (const job of jobs) {
      const result: JobResult = {
        id: job.id,
        state: 'done',
        exitCode: 0,
        output: job.spec.type === 'echo' ? job.spec.args.join(' ') : '',
        error: null,
        node: this.id,
        attempt: job.attempt ?? 1,
        startedAt: now,
        finishedAt: now,
      };
      this.results.push(result);
      this.unacked.set(job.id, result);
    }
    this.fleet.counters.dispatched += jobs.length;
    this.schedule();
  }

  private receiveResults(results: readonly JobResult[]): void {
    const now = performance.now();
    let refill = 0;
    for (const r of results) {
      this.ackResults.push(r.id);
      const t = this.own.get(r.id);
      if (t === undefined) {
        this.fleet.counters.duplicatesAtOrigin++;
        continue;
      }
      this.own.delete(r.id);
      this.fleet.counters.resultsAtOrigin++;
      this.fleet.onOriginResult(now - t);
      refill++;
    }
    if (this.fleet.loading) this.forward(refill);
    this.schedule();
  }

  private answerSweep(ids: readonly string[]): void {
    this.fleet.counters.sweeps++;
    const results: JobResult[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const r = this.unacked.get(id);
      if (r === undefined) missing.push(id);
      else results.push(r);
    }
    const requests = [...this.own.keys()].slice(0, MAX_BATCH);
    this.send({ type: 'RES_REQ', results, missing, requests });
  }

  /** Queues `n` new forwarded jobs (sent with this tick's batch). */
  forward(n: number): void {
    const now = Date.now();
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      const id = newTicket(now);
      this.own.set(id, t);
      this.forwards.push({
        id,
        spec: { type: 'echo', args: ['x'], priority: 0, maxAttempts: 3 },
        origin: this.id,
        submittedAt: now,
      });
    }
    this.fleet.counters.forwarded += n;
    if (n > 0) this.schedule();
  }

  heartbeat(): void {
    if (!this.welcomed) return;
    this.sendInfo = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** The frames of a tick leave in one write, as a real node's do (`withCork`). */
  private flush(): void {
    this.scheduled = false;
    withCork(this.ws, () => this.sendTick());
  }

  private sendTick(): void {
    for (const results of chunks(this.ackResults)) this.send({ type: 'ACK', jobs: [], results });
    this.ackResults = [];
    for (const results of chunks(this.results)) {
      this.send({ type: 'RESULT', results });
      this.fleet.counters.resultsSent += results.length;
    }
    this.results = [];
    if (this.sendInfo) {
      const slots = this.fleet.options.slots;
      this.fleet.counters.heartbeats++;
      this.send({ type: 'INFO', queued: 0, running: 0, free: slots, started: [] });
      this.sendInfo = false;
    }
    for (const jobs of chunks(this.forwards)) this.send({ type: 'JOB', jobs });
    this.forwards = [];
  }

  send(frame: FrameIn): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.fleet.counters.framesOut++;
    this.ws.send(JSON.stringify(frame));
  }

  close(): void {
    this.ws.terminate();
  }
}

export class FakeFleet {
  readonly counters: FleetCounters = {
    dispatched: 0,
    resultsSent: 0,
    forwarded: 0,
    forwardAcks: 0,
    resultsAtOrigin: 0,
    duplicatesAtOrigin: 0,
    sweeps: 0,
    closes: 0,
    framesIn: 0,
    framesOut: 0,
    heartbeats: 0,
  };
  readonly nodes: FakeNode[] = [];
  /** The first few close codes and reasons the proxy gave. */
  readonly closeReasons: string[] = [];
  loading = false;
  private latencies: Samples | null = null;
  private welcomed = 0;
  private onAllWelcomed: (() => void) | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private closedFlag = false;

  private constructor(readonly options: FleetOptions) {}

  /** Connects every fake node and waits until all are welcomed. */
  static async start(options: FleetOptions): Promise<FakeFleet> {
    const fleet = new FakeFleet(options);
    // nodes welcomed first beat while the rest join: silent until then, they would be dead
    let step = 0;
    const stepMs = Math.max(1, Math.round(options.infoPeriodMs / HEARTBEAT_STEPS));
    fleet.heartbeatTimer = setInterval(() => {
      for (let i = step; i < fleet.nodes.length; i += HEARTBEAT_STEPS) fleet.nodes[i]?.heartbeat();
      step = (step + 1) % HEARTBEAT_STEPS;
    }, stepMs);
    try {
      await fleet.connectAll();
    } catch (err) {
      fleet.close();
      throw err;
    }
    return fleet;
  }

  private async connectAll(): Promise<void> {
    const prefix = this.options.idPrefix ?? 'fake';
    const all = new Promise<void>((resolve) => (this.onAllWelcomed = resolve));
    const width = String(this.options.count).length;
    for (let i = 0; i < this.options.count; i += 100) {
      const batch: Promise<void>[] = [];
      for (let j = i; j < Math.min(this.options.count, i + 100); j++) {
        batch.push(this.connectOne(`${prefix}-${String(j + 1).padStart(width, '0')}`));
      }
      await Promise.all(batch);
    }
    const timeout = this.options.connectTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `only ${this.welcomed}/${this.options.count} fake nodes welcomed after ${timeout} ms`,
            ),
          ),
        timeout,
      );
    });
    try {
      await Promise.race([all, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private connectOne(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.options.url, {
        perMessageDeflate: false,
        handshakeTimeout: 10_000,
      });
      const node = new FakeNode(id, ws, this);
      this.nodes.push(node);
      ws.on('open', () => resolve());
      ws.on('error', (err) => reject(new Error(`${id}: ${err.message}`)));
      ws.on('close', (code, reason) => {
        if (this.closedFlag) return;
        this.counters.closes++;
        if (this.closeReasons.length < 5) {
          this.closeReasons.push(`${id}: ${code} ${reason.toString()}`);
        }
      });
      ws.on('message', (data: WebSocket.RawData) => {
        this.counters.framesIn++;
        let frame: Frame;
        try {
          frame = JSON.parse(data.toString()) as Frame;
        } catch {
          return;
        }
        node.onFrame(frame);
      });
    });
  }

  onWelcome(): void {
    this.welcomed++;
    if (this.welcomed === this.options.count) this.onAllWelcomed?.();
  }

  onOriginResult(ms: number): void {
    this.latencies?.push(ms);
  }

  /** Starts closed-loop load: `origins` fake nodes keep `window` forwarded jobs each in flight. */
  startLoad(origins: number, window: number): void {
    this.loading = true;
    this.latencies = new Samples(1 << 16);
    for (let i = 0; i < Math.min(origins, this.nodes.length); i++) {
      const node = this.nodes[i] as FakeNode;
      node.window = window;
      node.forward(window);
    }
  }

  /** Forgets latencies recorded so far (the warm-up). */
  resetLatencies(): void {
    this.latencies = new Samples(1 << 16);
  }

  /** Stops forwarding new jobs; returns origin latencies recorded since startLoad. */
  stopLoad(): Float64Array {
    this.loading = false;
    return this.latencies?.values() ?? new Float64Array(0);
  }

  /** Jobs forwarded whose result has not come back to their origin. */
  outstanding(): number {
    let n = 0;
    for (const node of this.nodes) n += node.own.size;
    return n;
  }

  welcomedCount(): number {
    return this.welcomed;
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    for (const node of this.nodes) node.close();
  }
}
