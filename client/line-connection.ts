import net from 'node:net';
import type tls from 'node:tls';
import { WireError } from '../shared/errors.js';
import type { OutputStream } from '../shared/run-log-format.js';
import { formatAddr, type Address } from './addr.js';
import { backoffDelay } from './backoff.js';
import { dialGreeted } from './dial.js';
import { DEFAULT_REPLY_TIMEOUT_MS, ReplyDeadline } from './reply-deadline.js';
import { StreamLiveness } from './stream-liveness.js';

/**
 * How a reply is framed: one line; `OK <n>` then n lines (LIST, LOGS, HELP); or output lines
 * `> <text>` (`2> <text>` for stderr, TAIL `streams`) ending with one final `OK`/`ERR` line.
 */
export type ReplyShape = 'line' | 'lines' | 'stream';

export interface RequestOptions {
  shape?: ReplyShape;
  /**
   * Whether the request may be sent again on a new connection when the old one died before
   * its reply came (true for reads and for anything idempotent by ticket).
   */
  resend?: boolean;
  /** For `stream`: each output line, without its `> ` (stdout) or `2> ` (stderr) marker. */
  onLine?: (text: string, stream: OutputStream) => void;
  /**
   * How long the request asks the node to hold its reply (WAIT's ms), read when it is written:
   * the reply deadline is this plus replyTimeoutMs. Default 0; for `stream`, Infinity (TAIL
   * follows a job, whose output may pause for as long as the job likes: StreamLiveness asks
   * the node PING on a second connection instead).
   */
  holdMs?: number | (() => number);
}

export interface ConnectionOptions {
  addrs: Address[];
  token?: string;
  tls?: tls.ConnectionOptions;
  /** Give up on pending requests when no node answered for this long. */
  reconnectTimeoutMs: number;
  connectTimeoutMs: number;
  /** The oldest request with no byte of reply this long (plus its holdMs): hung. 0: never. */
  replyTimeoutMs?: number;
  backoffBaseMs: number;
  backoffCapMs: number;
}

interface Request {
  line: () => string;
  shape: ReplyShape;
  resend: boolean;
  onLine?: (text: string, stream: OutputStream) => void;
  holdOf: () => number;
  /** holdOf() as of the last write. */
  hold: number;
  resolve: (lines: string[]) => void;
  reject: (err: Error) => void;
  got: string[];
  expect: number;
}

export { replyError } from './dial.js';

/** Replies are under 1 MiB by design; anything far larger means the stream is not ours. */
const MAX_BUFFER = 16 * 1024 * 1024;

/**
 * One TCP (or TLS) connection to a node, speaking the line protocol. Requests are pipelined:
 * they are written as soon as they are made and the node answers them in order, so each reply
 * goes to the oldest request still waiting. The connection opens on demand; when it drops,
 * requests that may be resent go again on a new one (after a capped, jittered backoff,
 * trying the next address), and only requests that cannot be resent safely fail.
 */
export class LineConnection {
  private socket: net.Socket | undefined;
  private state: 'idle' | 'connecting' | 'open' | 'closed' = 'idle';
  private readonly queue: Request[] = [];
  private readonly inflight: Request[] = [];
  private buffer = '';
  private addrIndex = 0;
  private attempt = 0;
  private downSince: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError = '';
  /** When a reply was first left hung; until one comes, reconnecting keeps the window open. */
  private hungSince: number | undefined;
  private readonly deadline: ReplyDeadline;
  /** While a followed job leads: a PING on a second connection when this one is quiet. */
  private readonly liveness: StreamLiveness;
  private closing: Promise<void> | undefined;
  /** Lines that answer no request (a node's notice before it closes, a worker's jobs). */
  onUnsolicited: (line: string) => void = () => {};

  constructor(private readonly opts: ConnectionOptions) {
    const timeoutMs = opts.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    // a hung connection is a lost one: what may be resent goes to the next address
    const hung = (why: string) => {
      this.lastError = why;
      this.hungSince ??= Date.now();
      this.socket?.destroy();
    };
    this.deadline = new ReplyDeadline(
      timeoutMs,
      () => this.inflight[0]?.hold,
      (ms) => hung(`no reply within ${ms} ms`),
    );
    this.liveness = new StreamLiveness(
      timeoutMs,
      () => this.inflight[0]?.shape === 'stream',
      (signal) => this.probe(timeoutMs, signal),
      () =>
        hung(
          `no answer to PING on a second connection within ${timeoutMs} ms while following a job`,
        ),
    );
  }

  /** Requests written or waiting to be written. */
  get pending(): number {
    return this.queue.length + this.inflight.length;
  }

  get address(): string {
    return formatAddr(this.opts.addrs[this.addrIndex] as Address);
  }

  /** Sends one request; resolves with its reply lines (errors are replies too: `ERR ...`). */
  request(line: string | (() => string), options: RequestOptions = {}): Promise<string[]> {
    if (this.state === 'closed') {
      return Promise.reject(new WireError('UNAVAILABLE', 'the client is closed'));
    }
    const shape = options.shape ?? 'line';
    const hold = options.holdMs ?? (shape === 'stream' ? Infinity : 0);
    return new Promise((resolve, reject) => {
      this.queue.push({
        line: typeof line === 'string' ? () => line : line,
        shape,
        resend: options.resend ?? true,
        onLine: options.onLine,
        holdOf: typeof hold === 'number' ? () => hold : hold,
        hold: 0,
        resolve,
        reject,
        got: [],
        expect: 0,
      });
      if (this.state === 'open') this.flush();
      else if (this.state === 'idle' && this.retryTimer === undefined) this.dial();
    });
  }

  /**
   * Opens the connection now, trying each address once; rejects with UNAVAILABLE when none
   * answers. Used by `connect()` so a wrong address fails at once instead of in the first call.
   */
  async open(): Promise<void> {
    if (this.state === 'open') return;
    for (let i = 0; i < this.opts.addrs.length; i++) {
      try {
        this.opened(await this.dialGreeted());
        return;
      } catch (err) {
        // the node's refusal (a wrong token) or a stranger's reply is the answer
        if (err instanceof WireError) throw err;
        this.lastError = describe(err);
        this.addrIndex = (this.addrIndex + 1) % this.opts.addrs.length;
      }
    }
    throw this.unavailable();
  }

  private unavailable(): WireError {
    const where = this.opts.addrs.map(formatAddr).join(', ');
    // a connection that closed without an error, with no dial since (reconnectTimeoutMs 0)
    const why = this.lastError || 'the connection closed';
    return new WireError('UNAVAILABLE', `no node answers at ${where} (${why})`);
  }

  private dialGreeted(): Promise<net.Socket> {
    const addr = this.opts.addrs[this.addrIndex] as Address;
    return dialGreeted(addr, this.opts);
  }

  /** A node answers `PING` at this connection's address on a connection of its own. */
  private async probe(timeoutMs: number, signal: AbortSignal): Promise<void> {
    const addr = this.opts.addrs[this.addrIndex] as Address;
    const { token, tls } = this.opts;
    (await dialGreeted(addr, { token, tls, connectTimeoutMs: timeoutMs, signal })).destroy();
  }

  private dial(): void {
    this.state = 'connecting';
    this.dialGreeted().then(
      (socket) => {
        if (this.state === 'closed') socket.destroy();
        else this.opened(socket);
      },
      (err: unknown) => {
        if (this.state === 'closed') return;
        if (err instanceof WireError) {
          // the token refused, or not a node: everything waiting fails with that answer
          this.state = 'idle';
          this.failAll(err);
          return;
        }
        this.lastError = describe(err);
        this.addrIndex = (this.addrIndex + 1) % this.opts.addrs.length;
        this.retryLater();
      },
    );
  }

  private retryLater(): void {
    if (this.state === 'closed') return;
    this.state = 'idle';
    const now = Date.now();
    this.downSince ??= now;
    if (now - this.downSince >= this.opts.reconnectTimeoutMs || this.pending === 0) {
      const err = this.unavailable();
      this.downSince = undefined;
      this.hungSince = undefined;
      this.attempt = 0;
      this.failAll(err);
      return;
    }
    const delay = backoffDelay(this.attempt++, this.opts.backoffBaseMs, this.opts.backoffCapMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state === 'idle' && this.pending > 0) this.dial();
    }, delay);
  }

  private opened(socket: net.Socket): void {
    this.socket = socket;
    this.state = 'open';
    this.attempt = 0;
    this.downSince = undefined;
    this.lastError = ''; // an earlier connection's failure is not this one's
    this.buffer = '';
    this.liveness.heard(); // it answered the greeting just now
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.received(chunk));
    socket.on('error', (err) => (this.lastError = describe(err)));
    socket.on('close', () => this.dropped(socket));
    this.flush();
  }

  private flush(): void {
    if (!this.socket || this.queue.length === 0) return;
    // a request that becomes the oldest in flight starts the reply clock
    if (this.inflight.length === 0) this.deadline.touch();
    let text = '';
    for (const r of this.queue.splice(0)) {
      this.inflight.push(r);
      text += r.line() + '\n';
      r.hold = r.holdOf();
    }
    this.socket.write(text);
    this.deadline.arm();
    this.liveness.arm();
  }

  private received(chunk: string): void {
    this.deadline.touch();
    this.liveness.heard();
    this.buffer += chunk;
    if (this.buffer.length > MAX_BUFFER) {
      this.lastError = 'a reply line exceeded 16 MiB';
      this.socket?.destroy();
      return;
    }
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      let line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.deliver(line);
    }
  }

  private deliver(line: string): void {
    const r = this.inflight[0];
    if (!r) return this.onUnsolicited(line);
    if (r.shape === 'stream' && (line.startsWith('> ') || line === '>')) {
      this.hungSince = undefined; // a node answers again
      r.onLine?.(line.slice(2), 'stdout');
      return;
    }
    if (r.shape === 'stream' && (line.startsWith('2> ') || line === '2>')) {
      this.hungSince = undefined;
      r.onLine?.(line.slice(3), 'stderr');
      return;
    }
    r.got.push(line);
    if (r.shape === 'lines' && r.got.length === 1) {
      const m = /^OK (\d+)$/.exec(line);
      r.expect = m ? Number(m[1]) : 0;
    }
    if (r.got.length > r.expect) {
      this.inflight.shift();
      this.hungSince = undefined; // a node answers again
      if (this.inflight.length > 0) this.deadline.arm();
      if (r.shape === 'stream') this.liveness.stop(); // its probe speaks for it no more
      this.liveness.arm();
      r.resolve(r.got);
    }
  }

  private dropped(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.buffer = '';
    this.deadline.stop();
    this.liveness.stop();
    if (this.state === 'closed') return;
    const lost = new WireError(
      'UNAVAILABLE',
      `the connection to ${this.address} was lost before the reply (${this.lastError || 'closed'})`,
    );
    // in order: the oldest unanswered requests go first again
    const again: Request[] = [];
    for (const r of this.inflight.splice(0)) {
      if (r.resend) again.push({ ...r, got: [], expect: 0 });
      else r.reject(lost);
    }
    this.queue.unshift(...again);
    this.addrIndex = (this.addrIndex + 1) % this.opts.addrs.length;
    this.state = 'idle';
    if (this.pending > 0) {
      // a node that greets, then leaves every request hung, counts as down since it first did
      this.downSince = this.hungSince ?? Date.now();
      this.retryLater();
    }
  }

  private failAll(err: Error): void {
    for (const r of [...this.inflight.splice(0), ...this.queue.splice(0)]) r.reject(err);
  }

  /** Closes the connection; requests still waiting fail. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      this.state = 'closed';
      clearTimeout(this.retryTimer);
      this.deadline.stop();
      this.liveness.stop();
      this.failAll(new WireError('UNAVAILABLE', 'the client was closed'));
      const socket = this.socket;
      if (!socket || socket.destroyed) return resolve();
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
    return this.closing;
  }
}

function describe(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return err instanceof Error ? err.message : String(err);
}
