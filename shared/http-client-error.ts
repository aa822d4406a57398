import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WireError } from './errors.js';

/** What node:http says about a request it could not read. */
export interface ClientError {
  code?: string;
  /** llhttp's own words (`Invalid method encountered`), on a parse error. */
  reason?: string;
}

/** Longest a socket that was answered stays open for the peer to read the answer. */
const LINGER_MS = 2_000;

/**
 * The status and error to answer a request node:http could not read (no route saw it): the
 * statuses Node would send itself, with the API's error in the body.
 */
export function clientErrorReply(err: ClientError): { status: number; error: WireError } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        error: new WireError(
          'TOO_LARGE',
          `the request line and headers are limited to ${http.maxHeaderSize} bytes`,
        ),
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, error: new WireError('TOO_LARGE', 'chunk extensions are too large') };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        error: new WireError('TIMEOUT', 'the request was not received in time'),
      };
    default: {
      const why = typeof err.reason === 'string' ? `: ${err.reason.slice(0, 80)}` : '';
      return { status: 400, error: new WireError('BAD_REQUEST', `not a valid HTTP request${why}`) };
    }
  }
}

/** The whole HTTP/1.1 response to `clientErrorReply`, as bytes for the socket. */
export function clientErrorResponse(err: ClientError): string {
  const { status, error } = clientErrorReply(err);
  return rawErrorResponse(status, error);
}

/** An error response in the API's shape, written out whole, that closes the connection. */
export function rawErrorResponse(
  status: number,
  error: WireError,
  headers: Record<string, string> = {},
): string {
  const body = JSON.stringify({ error: { code: error.code, message: error.message } });
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return (
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    'Cache-Control: no-store\r\n' +
    extra.join('') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

const answered = new WeakSet<Duplex>();

/**
 * A server's `clientError` listener: writes the JSON error on the socket and closes it. A
 * socket already gone, or in the middle of another response (whose bytes must not be mixed
 * with these), is only destroyed. With a listener, Node writes nothing itself, so every path
 * here ends the socket.
 */
export function answerClientError(err: Error & ClientError, socket: Duplex): void {
  // the parser may report again on bytes that arrive after the answer
  if (answered.has(socket)) return;
  const inFlight = (socket as { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  closeWith(socket, clientErrorResponse(err));
}

/**
 * A server's `connect` listener: these servers are not proxies, so CONNECT is a wrong method,
 * answered as one (without a listener, node:http closes the connection without a word).
 */
export function refuseConnect(_req: http.IncomingMessage, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const error = new WireError('BAD_REQUEST', 'CONNECT is not served: this server is not a proxy');
  closeWith(socket, rawErrorResponse(405, error, { Allow: 'GET, HEAD, POST' }));
}

/** Writes `response` and ends the socket, destroyed if the peer has not closed it in time. */
export function closeWith(socket: Duplex, response: string): void {
  answered.add(socket);
  const linger = setTimeout(() => socket.destroy(), LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
  socket.end(response);
}
