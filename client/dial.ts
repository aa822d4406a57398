import net from 'node:net';
import tls from 'node:tls';
import { WIRE_CODES, WireError, type WireCode } from '../shared/errors.js';
import type { Address } from './addr.js';

/** What opening a connection to a node needs. */
export interface DialOptions {
  token?: string;
  tls?: tls.ConnectionOptions;
  connectTimeoutMs: number;
  /** Gives up when aborted: the connection is destroyed, the promise rejects. */
  signal?: AbortSignal;
}

/** Nobody accepted the connection, or answered its `PING`, within connectTimeoutMs. */
export class NoAnswerError extends Error {}

/**
 * A connection to `addr` that a node has greeted: it accepted within connectTimeoutMs and
 * answered `AUTH` (with a token) and `PING` within connectTimeoutMs more. Rejects with a
 * WireError when the node refused (a wrong token) or something else answered, with a
 * NoAnswerError when nobody answered in time, with a plain Error when the connection failed.
 */
export async function dialGreeted(addr: Address, opts: DialOptions): Promise<net.Socket> {
  const socket = await dialOnce(addr, opts);
  await greet(socket, opts);
  return socket;
}

/** A connection to `addr` within connectTimeoutMs (no greeting); rejects with why not. */
export function dialOnce(addr: Address, opts: DialOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = opts.tls
      ? tls.connect({ ...opts.tls, host: addr.host, port: addr.port })
      : net.connect({ host: addr.host, port: addr.port });
    const timer = setTimeout(() => {
      socket.destroy(new NoAnswerError(`no answer within ${opts.connectTimeoutMs} ms`));
    }, opts.connectTimeoutMs);
    const signal = opts.signal;
    if (signal) {
      const abort = () => socket.destroy(new Error('given up'));
      if (signal.aborted) abort();
      signal.addEventListener('abort', abort, { once: true });
      socket.once('close', () => signal.removeEventListener('abort', abort));
    }
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

/**
 * `AUTH` (with a token) and `PING` on a new connection, answered within connectTimeoutMs:
 * something that accepts connections and says nothing (a hung node, another program) counts
 * as no node answering, instead of holding every call for ever.
 */
function greet(socket: net.Socket, opts: DialOptions): Promise<void> {
  const lines = [...(opts.token === undefined ? [] : [`AUTH ${opts.token}`]), 'PING'];
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
      () => end(new NoAnswerError(`no answer to PING within ${opts.connectTimeoutMs} ms`)),
      opts.connectTimeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('data', onData);
    socket.on('error', onEnd);
    socket.on('close', onClose);
    socket.write(lines.map((l) => l + '\n').join(''));
  });
}

/** A node's `ERR <CODE> <message>` line as a typed error. */
export function replyError(line: string): WireError {
  const m = /^ERR ([A-Z_]+)(?: (.*))?$/.exec(line);
  const code = m?.[1] ?? '';
  if (m && isWireCode(code)) return new WireError(code, m[2] ?? '');
  return new WireError('UNAVAILABLE', `unexpected reply: ${line.slice(0, 200)}`);
}

const isWireCode = (s: string): s is WireCode => Object.hasOwn(WIRE_CODES, s);
