import net from 'node:net';

/**
 * A client of the node's line protocol built for load: requests are pipelined (replies come
 * in order per connection, so a FIFO of callbacks pairs them), writes made in one tick go
 * out in one `write`, and reply lines are split without copying more than needed.
 * Only one-line replies are supported (LIST and HELP are not used by the benchmark).
 */

export type ReplyHandler = (reply: string) => void;

/** The synthetic reply handlers get when the connection closes before their reply came. */
export const CLOSED_REPLY = 'ERR CLOSED connection closed';

/** FIFO with a moving head: O(1) shift without Array#shift's copying. */
class HandlerQueue {
  private items: (ReplyHandler | undefined)[] = [];
  private head = 0;

  push(h: ReplyHandler): void {
    this.items.push(h);
  }

  shift(): ReplyHandler | undefined {
    if (this.head >= this.items.length) return undefined;
    const h = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return h;
  }

  get length(): number {
    return this.items.length - this.head;
  }
}

export class LineClient {
  private readonly handlers = new HandlerQueue();
  private inbuf = '';
  private outbuf = '';
  private flushScheduled = false;
  private closed = false;
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.outbuf === '' || this.closed) return;
    const out = this.outbuf;
    this.outbuf = '';
    this.socket.write(out);
  };

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
  }

  /** Connects to 127.0.0.1:`port`, failing after `timeoutMs`. */
  static connect(port: number, timeoutMs = 5000): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to 127.0.0.1:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new LineClient(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Sends one request line (without the newline); `onReply` gets its one-line reply. */
  send(line: string, onReply: ReplyHandler): void {
    if (this.closed) {
      onReply(CLOSED_REPLY);
      return;
    }
    this.handlers.push(onReply);
    this.outbuf += `${line}\n`;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** `send` as a promise, for the few non-hot-path requests. */
  request(line: string): Promise<string> {
    return new Promise((resolve) => this.send(line, resolve));
  }

  /** Requests sent whose reply has not come yet. */
  get pending(): number {
    return this.handlers.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the connection; pending requests get CLOSED_REPLY. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.socket.destroy();
    this.onClose();
  }

  private onData(chunk: string): void {
    let buf = this.inbuf === '' ? chunk : this.inbuf + chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && buf.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      const line = buf.slice(start, end);
      start = nl + 1;
      const h = this.handlers.shift();
      if (h !== undefined) h(line);
    }
    buf = start === 0 ? buf : buf.slice(start);
    if (buf.length > 1 << 20) {
      // a reply line this long is not something the benchmark asked for
      this.close();
      return;
    }
    this.inbuf = buf;
  }

  private onClose(): void {
    if (this.closed && this.handlers.length === 0) return;
    this.closed = true;
    for (let h = this.handlers.shift(); h !== undefined; h = this.handlers.shift()) {
      h(CLOSED_REPLY);
    }
  }
}

/** Connects `count` clients spread round-robin over `ports`, a few at a time. */
export async function connectMany(ports: readonly number[], count: number): Promise<LineClient[]> {
  const clients: LineClient[] = [];
  for (let i = 0; i < count; i += 32) {
    const batch: Promise<LineClient>[] = [];
    for (let j = i; j < Math.min(count, i + 32); j++) {
      batch.push(LineClient.connect(ports[j % ports.length] as number));
    }
    const settled = await Promise.allSettled(batch);
    for (const s of settled) if (s.status === 'fulfilled') clients.push(s.value);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) {
      for (const c of clients) c.close();
      throw failed.reason;
    }
  }
  return clients;
}

/** The code of an `ERR <CODE> ...` reply, or 'MALFORMED' for anything not starting with OK. */
export function errorCode(reply: string): string {
  if (reply.startsWith('ERR ')) {
    const sp = reply.indexOf(' ', 4);
    return sp < 0 ? reply.slice(4) : reply.slice(4, sp);
  }
  return 'MALFORMED';
}
