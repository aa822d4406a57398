import { setMaxListeners } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../shared/log.js';
import { formatErr } from '../shared/errors.js';

/** A reply: one or more lines (without the final newline), and whether to close afterwards. */
export interface Reply {
  text: string;
  close?: boolean;
  /**
   * A reply that streams: after `text` (when not empty), its lines are written as they come,
   * then the line it returns. Replies to later requests wait until it has ended.
   */
  stream?: AsyncGenerator<string, string>;
  /** Nothing is written (a worker's accepted DONE, FAIL or PROGRESS). */
  silent?: boolean;
}

/** The reply that writes nothing. */
export const NO_REPLY: Reply = Object.freeze({ text: '', silent: true });

/** Per-connection state a command handler may use. */
export interface Session {
  readonly id: number;
  authenticated: boolean;
  authFailures: number;
  /** Aborted when the client goes away, so waits end with it. */
  readonly signal: AbortSignal;
  /**
   * Sends a line the client did not ask for (a job for a worker). It leaves after the replies
   * already owed, so lines never interleave.
   */
  push(line: string): void;
  /**
   * Set when the connection takes on another role (a worker): its later lines go here instead
   * of the command handler, and it is never closed for being idle.
   */
  role?: LineHandler;
}

export type LineHandler = (line: string, session: Session) => Reply | Promise<Reply>;

export interface LineServerOptions {
  host: string;
  port: number;
  maxClients: number;
  /** Longest line accepted, in bytes, newline excluded. */
  maxLineBytes: number;
  /** Replies a connection may have outstanding before the server stops reading from it. */
  maxPending: number;
  /** Bytes of unsent replies before the server stops reading (a client that does not read). */
  maxUnsentBytes: number;
  /** Closes connections idle this long (0: never). */
  idleTimeoutMs: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  log: Logger;
}

const LINES_PER_TICK = 64;

/** Whether `text` is longer than `max` bytes of UTF-8 (counted only when it could be). */
function overLimit(text: string, max: number): boolean {
  return text.length * 3 > max && Buffer.byteLength(text) > max;
}

interface Slot {
  done: boolean;
  reply?: Reply;
}

/**
 * The client-facing TCP server: frames lines (partial chunks buffered, `\r\n` accepted, the
 * buffer capped), runs each through the handler, and writes replies strictly in request
 * order even when some handlers are asynchronous. Backpressure is TCP's own: when replies pile
 * up (the client pipes faster than jobs commit, or does not read), the socket is paused.
 */
export class LineServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly raw = new Set<net.Socket>();
  private nextId = 1;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly opts: LineServerOptions,
    private readonly handler: LineHandler,
  ) {
    const onSocket = (s: net.Socket) => this.accept(s);
    this.server = opts.tls
      ? tls.createServer(
          { cert: opts.tls.cert, key: opts.tls.key, allowHalfOpen: true, handshakeTimeout: 10_000 },
          onSocket,
        )
      : net.createServer({ allowHalfOpen: true }, onSocket);
    // a failed listen is listen()'s to report (one line naming CLIENT_PORT, by the caller)
    this.server.on('error', (err) => {
      if (this.server.listening) opts.log.error({ err }, 'client server error');
    });
    // every TCP connection, including TLS ones still in (or stuck before) their handshake
    this.server.on('connection', (raw: net.Socket) => {
      this.raw.add(raw);
      raw.once('close', () => this.raw.delete(raw));
    });
    if (opts.tls) this.server.on('tlsClientError', (_err, s) => s.destroy());
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  get connections(): number {
    return this.sockets.size;
  }

  private accept(socket: net.Socket): void {
    if (this.closing || this.sockets.size >= this.opts.maxClients) {
      socket.end(formatErr('BUSY', 'too many open connections, try again later') + '\n');
      socket.destroySoon?.();
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const controller = new AbortController();
    // what waits for the client (its WAITs share one listener, a TAIL adds its own) listens on it
    setMaxListeners(this.opts.maxPending + 16, controller.signal);
    const slots: Slot[] = [];
    const session: Session = {
      id: this.nextId++,
      authenticated: false,
      authFailures: 0,
      signal: controller.signal,
      push: (line) => {
        if (ending || socket.destroyed) return;
        slots.push({ done: true, reply: { text: line } });
        writeReady();
      },
    };
    let buffer = '';
    let ending = false;
    let rejecting = false;
    // The client may send its last request and half-close (`nc -N`, a script's pipe): the
    // replies still owed are written before the connection ends.
    let clientEnded = false;
    if (this.opts.idleTimeoutMs > 0) {
      socket.setTimeout(this.opts.idleTimeoutMs, () => {
        // a client waiting for a reply (a long WAIT), or a worker waiting for jobs, is not idle
        if (slots.length > 0 || session.role) return socket.setTimeout(this.opts.idleTimeoutMs);
        ending = true;
        socket.end(formatErr('TIMEOUT', 'idle connection closed') + '\n');
      });
    }
    const maxLine = this.opts.maxLineBytes;

    // a streamed reply at the head holds the replies after it until it ends
    let streaming = false;
    const writeReady = () => {
      if (streaming) return;
      let text = '';
      let close = false;
      while (slots.length > 0 && slots[0]?.done) {
        const slot = slots[0];
        if (slot.reply?.stream) {
          streaming = true;
          break;
        }
        slots.shift();
        if (!slot.reply?.silent) text += (slot.reply?.text ?? '') + '\n';
        if (slot.reply?.close) {
          close = true;
          break;
        }
      }
      if (text && !socket.destroyed) socket.write(text);
      if (streaming) {
        void pump(slots[0]?.reply as Reply);
      } else if (close) {
        ending = true;
        slots.length = 0;
        buffer = '';
        socket.end();
      } else if (clientEnded && slots.length === 0 && buffer.length === 0 && !ending) {
        ending = true;
        socket.end();
      }
    };

    /** Writes a streamed reply line by line, as fast as the client reads. */
    const pump = async (reply: Reply) => {
      const stream = reply.stream as AsyncGenerator<string, string>;
      let last: string;
      try {
        if (reply.text) await writeLine(reply.text);
        let r = await stream.next();
        while (!r.done && !socket.destroyed) {
          await writeLine(r.value);
          r = await stream.next();
        }
        last = r.done ? r.value : '';
        if (!r.done) await stream.return('');
      } catch (err) {
        last = this.internalError(err).text;
      }
      slots.shift();
      streaming = false;
      if (last && !socket.destroyed) socket.write(last + '\n');
      writeReady();
      processBuffer();
    };

    const writeLine = (line: string): Promise<void> => {
      if (socket.destroyed || socket.write(line + '\n')) return Promise.resolve();
      return new Promise((resolve) => {
        const go = () => {
          socket.off('drain', go);
          socket.off('close', go);
          resolve();
        };
        socket.on('drain', go);
        socket.on('close', go);
      });
    };

    const overloaded = () =>
      slots.length >= this.opts.maxPending || socket.writableLength >= this.opts.maxUnsentBytes;

    // Lines run per tick before yielding: a client that pipes thousands of costly commands in
    // one write cannot hold the event loop (and every other client) for long.
    let budgetResume = false;
    const processBuffer = () => {
      let budget = LINES_PER_TICK;
      while (!ending && !rejecting && !overloaded()) {
        if (budget-- === 0) {
          socket.pause();
          if (!budgetResume) {
            budgetResume = true;
            setImmediate(() => {
              budgetResume = false;
              writeReady();
              processBuffer();
            });
          }
          return;
        }
        const nl = buffer.indexOf('\n');
        if (nl < 0) break;
        let line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (overLimit(line, maxLine)) {
          tooLarge();
          return;
        }
        run(line);
      }
      if (ending || rejecting) return;
      if (overLimit(buffer, maxLine)) {
        tooLarge();
        return;
      }
      if (overloaded()) socket.pause();
      else if (socket.isPaused()) socket.resume();
    };

    const tooLarge = () => {
      // Nothing after the oversized line runs; what still arrives is read and dropped (not
      // paused, so the client's close is still seen).
      rejecting = true;
      const slot: Slot = {
        done: true,
        reply: {
          text: formatErr('TOO_LARGE', `lines are limited to ${maxLine} bytes`),
          close: true,
        },
      };
      slots.push(slot);
      buffer = '';
      writeReady();
    };

    const run = (line: string) => {
      const slot: Slot = { done: false };
      slots.push(slot);
      let result: Reply | Promise<Reply>;
      try {
        result = (session.role ?? this.handler)(line, session);
      } catch (err) {
        result = this.internalError(err);
      }
      if (result instanceof Promise) {
        result.then(
          (reply) => settle(slot, reply),
          (err: unknown) => settle(slot, this.internalError(err)),
        );
      } else {
        slot.done = true;
        slot.reply = result;
      }
    };

    // Replies that complete together (a group commit settles many) leave in one write: the
    // write runs once the current burst of promise reactions is done, before any other I/O.
    let writeScheduled = false;
    const settle = (slot: Slot, reply: Reply) => {
      slot.done = true;
      slot.reply = reply;
      if (writeScheduled) return;
      writeScheduled = true;
      process.nextTick(() => {
        writeScheduled = false;
        writeReady();
        processBuffer();
      });
    };

    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (ending || rejecting) return;
      buffer += chunk;
      processBuffer();
      writeReady();
    });
    socket.on('drain', () => processBuffer());
    socket.on('end', () => {
      clientEnded = true;
      // a last line without a newline still counts, as netcat users expect
      if (!ending && buffer.length > 0 && buffer.indexOf('\n') < 0) buffer += '\n';
      processBuffer();
      writeReady();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.sockets.delete(socket);
      controller.abort();
    });
  }

  private internalError(err: unknown): Reply {
    if (err && typeof err === 'object' && 'toLine' in err && typeof err.toLine === 'function') {
      return { text: String(err.toLine()) };
    }
    this.opts.log.error({ err }, 'command failed');
    return { text: formatErr('UNAVAILABLE', 'internal error, the request was not completed') };
  }

  /** Stops accepting connections and closes open ones. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.end();
      setTimeout(() => {
        for (const s of this.sockets) s.destroy();
        for (const s of this.raw) s.destroy();
      }, 500);
    });
    return this.closing;
  }
}
