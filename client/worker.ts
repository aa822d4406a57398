import type net from 'node:net';
import type tls from 'node:tls';
import { WireError } from '../shared/errors.js';
import { formatAddr, type Address } from './addr.js';
import { backoffDelay } from './backoff.js';
import { dialOnce, replyError } from './dial.js';
import { DEFAULT_REPLY_TIMEOUT_MS, replyTimeoutError } from './reply-deadline.js';
import { WorkerLiveness } from './worker-liveness.js';
import { resultLine } from './result-line.js';

export { resultLine } from './result-line.js';

/** A job as a worker's handler receives it. */
export interface WorkerJob {
  ticket: string;
  type: string;
  args: string[];
  env: Record<string, string>;
  stdin: string | undefined;
  /** Which run of the job this is (1 the first; more after a lost run). */
  attempt: number;
  /** Without a word (a result or `progress`) for this long, the node gives the job to another worker. */
  timeoutMs: number | undefined;
  /** Aborted when the node takes the job back (cancelled, timed out, connection lost): a result would be ignored. */
  signal: AbortSignal;
  /** Says how far the job got (0-100); it also tells the node the worker is alive. */
  progress(percent: number): void;
}

/**
 * Handles one job. What it returns is the job's output (a string as it is, anything else as
 * JSON, nothing as empty); what it throws fails the job with the error's message.
 */
export type WorkerHandler = (job: WorkerJob) => unknown;

export interface WorkerOptions {
  /** Jobs handled at once on this worker's connection (1-1024, default 1). */
  concurrency?: number;
  /** Told of what goes wrong without stopping the worker (a lost connection, a refused line). */
  onError?: (err: Error) => void;
  /**
   * A connection quiet for half of this gets a `PING`; no byte within this of the PING, and
   * it counts as hung: closed and opened again (ms; default the client's `replyTimeoutMs`,
   * 15000; 0 never).
   */
  replyTimeoutMs?: number;
}

/** How the worker reaches a node: the client's addresses and credentials. */
export interface WorkerConnectionOptions {
  addrs: Address[];
  token?: string;
  tls?: tls.ConnectionOptions;
  connectTimeoutMs: number;
  /** The client's reply timeout: the worker's unless its options say otherwise. */
  replyTimeoutMs?: number;
  backoffBaseMs: number;
  backoffCapMs: number;
}

const JOB_RE = /^JOB (\S+) (\{.*\})$/;

/**
 * A worker of one custom type: a connection of its own to a node that says `WORKER <type>
 * <concurrency>`, runs the handler for each `JOB` line and answers `DONE` or `FAIL`. When the
 * connection drops it reconnects (with backoff, trying the next address) and registers again;
 * the jobs it held are given to other workers by the node, so their handlers are aborted.
 * A connection that stays silent (see WorkerLiveness) is dropped the same way.
 */
export class PetrelWorker {
  readonly concurrency: number;
  private socket: net.Socket | undefined;
  private buffer = '';
  private readonly jobs = new Map<string, AbortController>();
  private attempt = 0;
  private addrIndex = 0;
  private closed = false;
  /** The current connection said OK worker (a drop before that is the dialler's to retry). */
  private registered = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private liveness: WorkerLiveness | undefined;
  /** Why the current connection was closed from this side (it stayed silent), for the report. */
  private hungReason: string | undefined;
  private readonly replyTimeoutMs: number;
  /** Replies owed before the connection is a worker (AUTH, WORKER). */
  private handshake: Array<(line: string) => void> = [];
  /** Jobs handled so far, for callers and tests. */
  handled = 0;

  constructor(
    private readonly conn: WorkerConnectionOptions,
    readonly type: string,
    private readonly handler: WorkerHandler,
    private readonly opts: WorkerOptions = {},
  ) {
    this.concurrency = opts.concurrency ?? 1;
    this.replyTimeoutMs = opts.replyTimeoutMs ?? conn.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
  }

  /** Jobs being handled now. */
  get active(): number {
    return this.jobs.size;
  }

  /** Connects and registers; rejects when no address answers or the node refuses the worker. */
  async start(): Promise<this> {
    const bad = replyTimeoutError(this.replyTimeoutMs);
    if (bad) {
      this.closed = true;
      throw bad;
    }
    let last: unknown;
    for (let i = 0; i < this.conn.addrs.length; i++) {
      try {
        await this.register();
        return this;
      } catch (err) {
        last = err;
        if (err instanceof WireError && err.code !== 'UNAVAILABLE') break;
        this.addrIndex = (this.addrIndex + 1) % this.conn.addrs.length;
      }
    }
    this.closed = true;
    throw last instanceof WireError ? last : new WireError('UNAVAILABLE', describe(last));
  }

  /** Opens a connection, authenticates, says WORKER; resolves once the node answered OK worker. */
  private async register(): Promise<void> {
    const socket = await this.dial();
    this.socket = socket;
    this.buffer = '';
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    socket.on('data', (chunk: string) => this.received(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.dropped(socket));
    // something that accepts connections and never answers is no node: give up on it
    let silent = false;
    const timer = setTimeout(() => {
      silent = true;
      socket.destroy();
    }, this.conn.connectTimeoutMs);
    const reply = async (line: string) => {
      const answer = await new Promise<string>((resolve) => {
        this.handshake.push(resolve);
        socket.write(line + '\n');
      });
      if (!silent) return answer;
      const where = formatAddr(this.conn.addrs[this.addrIndex] as Address);
      const ms = this.conn.connectTimeoutMs;
      throw new WireError('UNAVAILABLE', `no node answers at ${where} (no answer within ${ms} ms)`);
    };
    try {
      if (this.conn.token !== undefined) {
        const auth = await reply(`AUTH ${this.conn.token}`);
        if (!auth.startsWith('OK')) throw this.refused(socket, auth);
      }
      const ok = await reply(`WORKER ${this.type} ${this.concurrency}`);
      if (ok !== 'OK worker') throw this.refused(socket, ok);
    } finally {
      clearTimeout(timer);
    }
    this.attempt = 0;
    this.registered = true;
    this.liveness = new WorkerLiveness(
      this.replyTimeoutMs,
      () => this.send('PING'),
      (ms) => this.hung(socket, ms),
    );
  }

  /**
   * The node sent nothing within `ms` of a PING: the connection is dropped as a lost one. The
   * jobs running here are aborted, as on any lost connection: the node gives them to another
   * worker once it sees the connection closed (or the cluster, once it finds the node dead).
   */
  private hung(socket: net.Socket, ms: number): void {
    if (this.socket !== socket) return;
    const where = formatAddr(this.conn.addrs[this.addrIndex] as Address);
    const n = this.jobs.size;
    const given =
      n === 0
        ? ''
        : ` (${n} running job${n === 1 ? '' : 's'} given up: the node runs ${n === 1 ? 'it' : 'them'} again)`;
    this.hungReason = `the node at ${where} sent nothing for ${ms} ms after PING: the connection counts as hung; reconnecting${given}`;
    // a node still frozen would accept a connection and say nothing: the next address first
    this.addrIndex = (this.addrIndex + 1) % this.conn.addrs.length;
    socket.destroy();
  }

  private refused(socket: net.Socket, line: string): WireError {
    socket.destroy();
    return errorOf(line);
  }

  private async dial(): Promise<net.Socket> {
    const addr = this.conn.addrs[this.addrIndex] as Address;
    try {
      return await dialOnce(addr, this.conn);
    } catch (err) {
      throw new WireError(
        'UNAVAILABLE',
        `no node answers at ${formatAddr(addr)} (${describe(err)})`,
      );
    }
  }

  private received(chunk: string): void {
    this.liveness?.heard();
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      let line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      const owed = this.handshake.shift();
      if (owed) owed(line);
      else this.onLine(line);
    }
  }

  private onLine(line: string): void {
    // the answer to the worker's PING: no job, and no word on any result
    if (line === 'OK PONG') return this.liveness?.ponged();
    const job = JOB_RE.exec(line);
    if (job) return this.run(job[1] as string, job[2] as string);
    if (line.startsWith('CANCEL ')) {
      this.jobs.get(line.slice(7).trim())?.abort();
      return;
    }
    if (line.startsWith('ERR ')) this.opts.onError?.(errorOf(line));
  }

  private run(ticket: string, json: string): void {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(json) as Record<string, unknown>;
    } catch {
      this.send(`FAIL ${ticket} the worker could not read the job`);
      return;
    }
    const controller = new AbortController();
    this.jobs.set(ticket, controller);
    const socket = this.socket;
    const job: WorkerJob = {
      ticket,
      type: String(body.type ?? this.type),
      args: Array.isArray(body.args) ? body.args.map(String) : [],
      env: (body.env as Record<string, string> | undefined) ?? {},
      stdin: typeof body.stdin === 'string' ? body.stdin : undefined,
      attempt: typeof body.attempt === 'number' ? body.attempt : 1,
      timeoutMs: typeof body.timeoutMs === 'number' ? body.timeoutMs : undefined,
      signal: controller.signal,
      progress: (percent) => {
        if (controller.signal.aborted) return;
        const p = Math.min(100, Math.max(0, Math.round(Number(percent) || 0)));
        this.send(`PROGRESS ${ticket} ${p}`);
      },
    };
    const finish = (verb: 'DONE' | 'FAIL', text: string) => {
      if (this.jobs.get(ticket) === controller) this.jobs.delete(ticket);
      this.handled++;
      // taken back (cancelled, timed out) or sent on a connection since lost: nobody listens
      if (controller.signal.aborted || this.socket !== socket) return;
      this.send(resultLine(verb, ticket, text));
    };
    Promise.resolve()
      .then(() => this.handler(job))
      .then(
        (value) => finish('DONE', outputOf(value)),
        (err: unknown) => finish('FAIL', describe(err) || 'the handler failed'),
      );
  }

  private send(line: string): void {
    const s = this.socket;
    if (s && !s.destroyed) s.write(line + '\n');
  }

  private dropped(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.liveness?.stop();
    this.liveness = undefined;
    const reason = this.hungReason ?? 'lost the connection to the node; reconnecting';
    this.hungReason = undefined;
    for (const owed of this.handshake.splice(0)) owed('');
    // the node gives these jobs to other workers: their results here would be ignored
    for (const c of this.jobs.values()) c.abort();
    this.jobs.clear();
    const wasRegistered = this.registered;
    this.registered = false;
    if (this.closed || !wasRegistered) return;
    this.opts.onError?.(new WireError('UNAVAILABLE', reason));
    this.reconnect();
  }

  private reconnect(): void {
    if (this.closed) return;
    const delay = backoffDelay(this.attempt++, this.conn.backoffBaseMs, this.conn.backoffCapMs);
    this.retryTimer = setTimeout(() => {
      this.register().catch((err: unknown) => {
        this.opts.onError?.(err instanceof Error ? err : new Error(String(err)));
        this.addrIndex = (this.addrIndex + 1) % this.conn.addrs.length;
        this.socket?.destroy();
        this.reconnect();
      });
    }, delay);
  }

  /**
   * Stops: the node hears QUIT and gives jobs still being handled to other workers (their
   * handlers are aborted). Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.liveness?.stop();
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end('QUIT\n');
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  }
}

/** A node's `ERR <CODE> <message>` line (or a closed connection, '') as a typed error. */
function errorOf(line: string): WireError {
  if (line === '') return new WireError('UNAVAILABLE', 'the node closed the connection');
  return replyError(line);
}

/** The output of a handler's value. */
function outputOf(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return JSON.stringify(value) ?? '';
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
