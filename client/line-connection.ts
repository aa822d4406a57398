import net from 'node:net';
import tls from 'node:tls';
import { WIRE_CODES, WireError, type WireCode } from '../shared/errors.js';
import type { OutputStream } from '../shared/run-log-format.js';
import { formatAddr, type Address } from './addr.js';
import { backoffDelay } from './backoff.js';

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
}

export interface ConnectionOptions {
  addrs: Address[];
  token?: string;
  tls?: tls.ConnectionOptions;
  /** Give up on pending requests when no node answered for this long. */
  reconnectTimeoutMs: number;
  connectTimeoutMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
}

interface Request {
  line: () => string;
  shape: ReplyShape;
  resend: boolean;
  onLine?: (text: string, stream: OutputStream) => void;
  resolve: (lines: string[]) => void;
  reject: (err: Error) => void;
  got: string[];
  expect: number;
}

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
  private closing: Promise<void> | undefined;
  /** Lines that answer no request (a node's notice before it closes, a worker's jobs). */
  onUnsolicited: (line: string) => void = () => {};

  constructor(private readonly opts: ConnectionOptions) {}

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
    return new Promise((resolve, reject) => {
      this.queue.push({
        line: typeof line === 'string' ? () => line : line,
        shape: options.shape ?? 'line',
        resend: options.resend ?? true,
        onLine: options.onLine,
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
        const socket = await this.dialOnce();
        await this.greet(socket);
        this.opened(socket);
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

  /**
   * `AUTH` (with a token) and `PING` on a new connection, answered within connectTimeoutMs:
   * something that accepts connections and says nothing (a hung node, another program) counts
   * as no node answering, instead of holding every call for ever.
   */
  private greet(socket: net.Socket): Promise<void> {
    const lines = [...(this.opts.token === undefined ? [] : [`AUTH ${this.opts.token}`]), 'PING'];
    return new Promise((resolve, reject) => {
      let text = '';
      let answered = 0;
      const end = (err?: Error) => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', onEnd);
        socket.off('close', onClose);
        if (!err) return resolve();
        socket.destroy();
        reject(err);
      };
      const onEnd = (err?: unknown) =>
        end(err instanceof Error ? err : new Error('closed before answering PING'));
      const onClose = () => onEnd();
      const onData = (chunk: string) => {
        text += chunk;
        let nl: number;
        while ((nl = text.indexOf('\n')) >= 0) {
          const line = text.slice(0, nl).replace(/\r$/, '');
          text = text.slice(nl + 1);
          if (!line.startsWith('OK')) return end(replyError(line));
          if (++answered === lines.length) return end();
        }
      };
      const timer = setTimeout(
        () => end(new Error(`no answer to PING within ${this.opts.connectTimeoutMs} ms`)),
        this.opts.connectTimeoutMs,
      );
      socket.setEncoding('utf8');
      socket.on('data', onData);
      socket.on('error', onEnd);
      socket.on('close', onClose);
      socket.write(lines.map((l) => l + '\n').join(''));
    });
  }

  private unavailable(): WireError {
    const where = this.opts.addrs.map(formatAddr).join(', ');
    return new WireError('UNAVAILABLE', `no node answers at ${where} (${this.lastError})`);
  }

  private dialOnce(): Promise<net.Socket> {
    const addr = this.opts.addrs[this.addrIndex] as Address;
    return new Promise((resolve, reject) => {
      const socket = this.opts.tls
        ? tls.connect({ ...this.opts.tls, host: addr.host, port: addr.port })
        : net.connect({ host: addr.host, port: addr.port });
      const timer = setTimeout(() => {
        socket.destroy(new Error(`no answer within ${this.opts.connectTimeoutMs} ms`));
      }, this.opts.connectTimeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      socket.once('error', fail);
      socket.once(this.opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(socket);
      });
    });
  }

  private dial(): void {
    this.state = 'connecting';
    const greeted = async () => {
      const socket = await this.dialOnce();
      await this.greet(socket);
      return socket;
    };
    greeted().then(
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
    this.buffer = '';
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
    let text = '';
    for (const r of this.queue.splice(0)) {
      this.inflight.push(r);
      text += r.line() + '\n';
    }
    this.socket.write(text);
  }

  private received(chunk: string): void {
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
      r.onLine?.(line.slice(2), 'stdout');
      return;
    }
    if (r.shape === 'stream' && (line.startsWith('2> ') || line === '2>')) {
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
      r.resolve(r.got);
    }
  }

  private dropped(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.buffer = '';
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
      this.downSince = Date.now();
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

/** A node's `ERR <CODE> <message>` line as a typed error. */
export function replyError(line: string): WireError {
  const m = /^ERR ([A-Z_]+)(?: (.*))?$/.exec(line);
  const code = m?.[1] ?? '';
  if (m && isWireCode(code)) return new WireError(code, m[2] ?? '');
  return new WireError('UNAVAILABLE', `unexpected reply: ${line.slice(0, 200)}`);
}

const isWireCode = (s: string): s is WireCode => Object.hasOwn(WIRE_CODES, s);

function describe(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return err instanceof Error ? err.message : String(err);
}
