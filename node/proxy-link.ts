import WebSocket from 'ws';
import type { Logger } from '../shared/log.js';
import type { JobResult, JobView } from '../shared/job-view.js';
import { FrameBatcher, withCork } from '../shared/batcher.js';
import { helloProof } from '../shared/proof.js';
import {
  closeReason,
  MAX_FRAME_BYTES,
  STALE_EPOCH_CODE,
  PROTOCOL_VERSION,
  READS_HEADER,
  parseFrame,
  type Frame,
  type FrameIn,
  type FrameOf,
  type WireJob,
} from '../shared/protocol.js';
import { wireJobJson, type WireJobExtras } from '../shared/wire-text.js';
import { JoinTrouble, joinFailureText } from './join-trouble.js';
import { LinkRequests, type LogReadRequest } from './link-requests.js';
import { ProxyTargets } from './proxy-targets.js';

export type { LogReadRequest } from './link-requests.js';

export interface LinkOptions {
  /** PROXY_URL: one proxy, or every proxy of a group. */
  urls: readonly string[];
  /** The newest group epoch this node saw before it restarted (0: none). */
  epoch: number;
  /** The incarnation of the proxy's file it was last welcomed with (undefined: none yet). */
  incarnation?: number;
  nodeId: string;
  slots: number;
  labels: string[];
  /** NODE_CPUS and NODE_MEM_MB. */
  cpus?: number;
  memMb?: number;
  secret: string | undefined;
  /** How often to ping the proxy: the heartbeat its failure detection listens to. */
  heartbeatMs: number;
  /** Extra CA certificates (PEM) to trust for wss://. */
  ca?: string | Buffer;
  log: Logger;
}

export interface LinkHandlers {
  /** What this node holds as executor, for HELLO. */
  holds(): FrameOf<'HELLO'>['holds'];
  /** The custom types this node's workers serve, for HELLO. */
  workers(): FrameOf<'HELLO'>['workers'];
  /**
   * Joined; `newLeader` when the proxy leads a newer epoch than any seen, or its file is another
   * than the one last welcomed with (restored or new): tell it all.
   */
  welcomed(frame: FrameOf<'WELCOME'>, newLeader: boolean): void;
  /** A newer group epoch, or another incarnation of the proxy's file: kept across restarts. */
  seen(what: { epoch?: number; incarnation?: number }): void;
  frame(frame: Frame): void;
  down(): void;
}

const BACKOFF_BASE_MS = 50;
const BACKOFF_CAP_MS = 1000;
const SILENCE_LIMIT_MS = 5000;
/** Close codes of a proxy refusing this node for something only its operator can change. */
const REFUSALS = new Set([1008, 4001, 4003, 4009, 4029]);

/**
 * The node's connection to the proxy: joins (CHALLENGE → HELLO → WELCOME), batches outgoing
 * frames per tick, reconnects with capped exponential backoff and jitter, and detects a
 * silent proxy with pings.
 */
export class ProxyLink {
  private ws: WebSocket | undefined;
  private welcomed = false;
  private closed = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private lastHeard = 0;
  private readonly readyWaiters = new Set<() => void>();
  private readonly requests = new LinkRequests(
    (frame) => this.send(frame),
    () => this.flush(),
  );
  private readonly out = new FrameBatcher(
    (frame) => this.send(frame),
    (sends) => (this.ws ? withCork(this.ws, sends) : sends()),
    (text) => this.sendText(text),
  );
  /** Counts for metrics and tests. */
  framesSent = 0;
  framesReceived = 0;
  connects = 0;

  private readonly targets: ProxyTargets;
  private readonly trouble: JoinTrouble;

  constructor(
    private readonly opts: LinkOptions,
    private readonly handlers: LinkHandlers,
  ) {
    this.targets = new ProxyTargets(opts.urls, opts.epoch, opts.incarnation);
    this.trouble = new JoinTrouble(opts.log);
  }

  /** The proxy this node talks to (or tries next). */
  get url(): string {
    return this.targets.url;
  }

  /** Joined, on a connection that is not closing. */
  get ready(): boolean {
    return this.welcomed && this.ws?.readyState === WebSocket.OPEN;
  }

  /**
   * Resolves true once joined (at once when joined now), false when `ms` passed first or the
   * link closed for good: callers wait a bounded moment through a reconnect instead of failing.
   */
  whenReady(ms: number): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    if (this.closed || ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.readyWaiters.delete(waiter);
        resolve(ok);
      };
      const waiter = () => done(this.ready);
      const timer = setTimeout(() => done(false), ms);
      this.readyWaiters.add(waiter);
    });
  }

  start(): void {
    this.connect();
    this.pingTimer = setInterval(() => this.checkAlive(), this.opts.heartbeatMs);
    this.pingTimer.unref();
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.targets.connectUrl, {
      headers: { [READS_HEADER]: 'incarnation' },
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      // Masking guards HTTP intermediaries against bytes a browser script chose; every frame
      // here is JSON, which cannot spell an HTTP request, so the mask is zero and ws skips it.
      generateMask: (mask) => void mask.fill(0),
      // in a group, a proxy whose host is gone must not hold up trying the others
      handshakeTimeout: this.targets.group ? 2000 : 5000,
      ca: this.opts.ca,
    });
    this.ws = ws;
    const url = this.targets.url;
    let failure: string | undefined;
    ws.on('open', () => {
      this.lastHeard = Date.now();
      this.opts.log.debug({ url: this.targets.url }, 'connected to proxy, waiting for challenge');
    });
    ws.on('message', (data, isBinary) => {
      this.lastHeard = Date.now();
      if (isBinary) return this.protocolError(ws, 'binary frames are not part of the protocol');
      const parsed = parseFrame(data.toString());
      if (!parsed.ok) return this.protocolError(ws, parsed.reason);
      this.framesReceived++;
      this.receive(ws, parsed.frame);
    });
    ws.on('pong', () => {
      this.lastHeard = Date.now();
    });
    ws.on('error', (err) => {
      failure = joinFailureText(err.message);
      this.opts.log.debug({ err: err.message }, 'proxy connection error');
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      const was = this.welcomed;
      this.welcomed = false;
      this.requests.lost();
      if (this.closed) return;
      const why = reason.toString();
      const when = this.targets.closed(code, why, was);
      if (was) {
        this.opts.log.warn(
          { code, reason: why, next: this.targets.url },
          'lost the proxy; reconnecting',
        );
        this.handlers.down();
      } else {
        const refused = REFUSALS.has(code);
        this.trouble.failed(url, why || failure || `connection closed (${code})`, refused);
        if (code >= 4000 && !refused) {
          this.opts.log.debug(
            { code, reason: why, next: this.targets.url },
            'a proxy refused this node',
          );
        }
      }
      this.scheduleReconnect(when === 'now');
    });
  }

  private receive(ws: WebSocket, frame: Frame): void {
    const epoch = 'epoch' in frame ? frame.epoch : undefined;
    if (!this.targets.accepts(epoch)) return this.staleEpoch(ws, epoch);
    switch (frame.type) {
      case 'CHALLENGE': {
        const { nodeId, secret, slots, labels, cpus, memMb } = this.opts;
        const proof = secret ? helloProof(secret, frame.nonce, nodeId) : null;
        const hello: FrameOf<'HELLO'> = {
          type: 'HELLO',
          version: PROTOCOL_VERSION,
          nodeId,
          slots,
          labels,
          cpus,
          memMb,
          proof,
          holds: this.handlers.holds(),
          workers: this.handlers.workers(),
        };
        ws.send(JSON.stringify(hello));
        return;
      }
      case 'WELCOME': {
        const seen = this.targets.welcomed(frame.epoch);
        if (seen === 'stale') return this.staleEpoch(ws, frame.epoch);
        if (seen === 'new') this.handlers.seen({ epoch: this.targets.epoch });
        const file = this.targets.fileWelcomed(frame.incarnation);
        if (file !== 'same') this.handlers.seen({ incarnation: frame.incarnation });
        this.welcomed = true;
        this.attempt = 0;
        this.connects++;
        this.trouble.joined(this.targets.url);
        const { url } = this.targets;
        const { epoch, incarnation } = frame;
        this.opts.log.info({ url, epoch, incarnation }, 'joined the proxy');
        if (file === 'other') {
          const why =
            "the proxy's file is not the one last joined (restored from a backup, or new)";
          this.opts.log.warn({ url, incarnation }, `${why}: every open ticket goes to it again`);
        }
        this.handlers.welcomed(frame, seen === 'new' || file === 'other');
        for (const w of [...this.readyWaiters]) w();
        return;
      }
      case 'RES_REQ':
        if (frame.reqId !== undefined) return this.requests.answered(frame.reqId, frame);
        this.handlers.frame(frame);
        return;
      case 'LOG_DATA':
        return this.requests.logData(frame);
      default:
        if (!this.welcomed) return this.protocolError(ws, `${frame.type} before WELCOME`);
        this.handlers.frame(frame);
    }
  }

  /** A deposed leader (an older epoch than one seen): nothing it says is acted on. */
  private staleEpoch(ws: WebSocket, epoch: number | undefined): void {
    const reason = `stale leader: epoch ${epoch} is older than ${this.targets.epoch}`;
    this.opts.log.warn({ url: this.targets.url }, reason);
    ws.close(STALE_EPOCH_CODE, reason);
  }

  private protocolError(ws: WebSocket, reason: string): void {
    this.opts.log.error({ reason }, 'protocol error from the proxy');
    ws.close(1008, closeReason(reason));
  }

  /** Reconnects after a capped, jittered backoff, or `now` (a follower named the leader). */
  private scheduleReconnect(now = false): void {
    if (this.closed || this.reconnectTimer) return;
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    this.attempt++;
    const delay = now ? 0 : ceiling / 2 + Math.random() * (ceiling / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private checkAlive(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
      this.opts.log.warn('the proxy went silent; reconnecting');
      ws.terminate();
      return;
    }
    ws.ping();
  }

  /** Sends one frame now, if joined. Returns whether it was sent. */
  send(frame: FrameIn): boolean {
    return this.sendText(JSON.stringify(frame));
  }

  /** Sends a frame already encoded as JSON. */
  private sendText(text: string): boolean {
    const ws = this.ws;
    if (!this.welcomed || !ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(text);
    this.framesSent++;
    return true;
  }

  /** Queues a forwarded job for this tick's JOB frame. */
  forward(job: WireJob): void {
    this.out.job(job);
  }

  /**
   * As `forward`, for a job this node issued whose spec's JSON (and result's, in `extras`) is
   * made already: the frame is put together around them (`wireJobJson`), not encoded again.
   */
  forwardOwn(
    t: { id: string; submittedAt: number },
    specJson: string,
    extras?: WireJobExtras,
  ): void {
    const head = { id: t.id, origin: this.opts.nodeId, submittedAt: t.submittedAt };
    this.out.jobText(wireJobJson(head, specJson, extras));
  }
  result(result: JobResult): void {
    this.out.result(result);
  }
  ackJobs(ids: readonly string[]): void {
    for (const id of ids) this.out.ackJob(id);
  }
  ackResults(ids: readonly string[]): void {
    for (const id of ids) this.out.ackResult(id);
  }

  /** Sends what this tick queued now (frames queued while not joined are dropped: the stores resend them after WELCOME). */
  flush(): void {
    if (!this.welcomed) this.out.clear();
    else this.out.flush();
  }

  /**
   * Asks the proxy about tickets (lookup), to cancel them, or to run them again (retry);
   * resolves with client views, or rejects with the proxy's refusal.
   */
  request(
    kind: 'lookup' | 'cancel' | 'retry',
    ids: string[],
    timeoutMs = 3000,
  ): Promise<JobView[]> {
    const frames = {
      lookup: (reqId: number): FrameIn => ({ type: 'REQUEST_OF_RES', ids, reqId }),
      cancel: (reqId: number): FrameIn => ({ type: 'CANCEL', ids, reqId }),
      retry: (reqId: number): FrameIn => ({ type: 'RETRY', ids, reqId }),
    };
    return this.requests.ask(frames[kind], timeoutMs);
  }

  /** Claims a keyed or dependent job; resolves with the view of the ticket the client gets. */
  claim(job: WireJob, timeoutMs = 3000): Promise<JobView[]> {
    return this.requests.ask((reqId) => ({ type: 'CLAIM', reqId, job }), timeoutMs);
  }

  /** Asks the proxy for output of a run on another node (LOG_READ, answered by LOG_DATA). */
  readLog(req: LogReadRequest): Promise<FrameOf<'LOG_DATA'>> {
    return this.requests.readLog(req);
  }

  /** Closes the connection for good. Safe to call twice. */
  close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.readyWaiters]) w();
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    this.flush();
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      ws.close(1001, 'node shutting down');
    });
  }
}
