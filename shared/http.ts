import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { HTTP_STATUS, WIRE_CODES, WireError } from './errors.js';
import { answerClientError, refuseConnect } from './http-client-error.js';
import { routeUpgrades, type UpgradeRoute } from './http-upgrade.js';

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** Sends a JSON body with a status code. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Sends `{"error":{"code","message"}}` with the status of its code. */
export function sendError(res: http.ServerResponse, err: WireError, status?: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  };
  if (err.code === 'UNAUTHORIZED') headers['www-authenticate'] = 'Bearer realm="petrel"';
  // BUSY lasts until work finishes: a client that honours this waits before it asks again
  if (err.code === 'BUSY') headers['retry-after'] = '1';
  res.writeHead(status ?? HTTP_STATUS[err.code], headers);
  res.end(
    JSON.stringify({ error: { code: err.code, message: err.message || WIRE_CODES[err.code] } }),
  );
}

/**
 * The query's parameters that have a value: an empty one (`?state=&limit=`, as the docs write
 * a query) means the parameter was not given, so `?state=&state=failed` is `?state=failed`. A
 * parameter given twice (`?state=failed&state=done`) is a BAD_REQUEST: which one was meant?
 */
export function givenParams(query: URLSearchParams): URLSearchParams {
  const given = new URLSearchParams();
  for (const [name, value] of query) {
    if (value === '') continue;
    if (given.has(name)) {
      throw new WireError('BAD_REQUEST', `parameter '${name.slice(0, 40)}' given twice`);
    }
    given.append(name, value);
  }
  return given;
}

/** The request's target as a URL; BAD_REQUEST when it is not one (`http://[zz/`). */
export function requestUrl(req: http.IncomingMessage): URL {
  try {
    const target = req.url ?? '/';
    // a path is a path even when it starts `//` (which a base URL would take for a host)
    return target.startsWith('/')
      ? new URL(`http://localhost${target}`)
      : new URL(target, 'http://localhost');
  } catch {
    throw new WireError('BAD_REQUEST', 'the request target is not a valid URL');
  }
}

/** A percent-encoded segment of a path, decoded; BAD_REQUEST when it is malformed (`%ZZ`). */
export function pathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new WireError('BAD_REQUEST', 'malformed percent-encoding in the path');
  }
}

/**
 * A 405 with the `Allow` header RFC 9110 asks for. The code stays BAD_REQUEST: the wire codes
 * are fixed, and the status says the rest.
 */
export function sendMethodNotAllowed(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  allowed: readonly string[],
): void {
  const methods =
    allowed.includes('GET') && !allowed.includes('HEAD') ? [...allowed, 'HEAD'] : allowed;
  req.resume();
  res.setHeader('allow', methods.join(', '));
  const method = String(req.method).slice(0, 20);
  sendError(
    res,
    new WireError('BAD_REQUEST', `${method} is not allowed here (allowed: ${methods.join(', ')})`),
    405,
  );
}

/** Whether a request asks to switch protocols (`Upgrade`, named in `Connection`). */
function asksUpgrade(req: http.IncomingMessage): boolean {
  const connection = req.headers.connection ?? '';
  return req.headers.upgrade !== undefined && /(^|,)\s*upgrade\s*(,|$)/i.test(connection);
}

/** The methods these servers serve, as `OPTIONS *` tells them. */
const SERVER_METHODS = ['GET', 'HEAD', 'POST', 'OPTIONS'] as const;

/**
 * A request whose target is `*` (the asterisk form, RFC 9110 §7.1): `OPTIONS *` asks about the
 * server as a whole and is told its methods in `Allow`; any other method needs a path.
 */
function answerAsterisk(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  if (req.method !== 'OPTIONS') {
    const method = String(req.method).slice(0, 20);
    throw new WireError('BAD_REQUEST', `the target * is for OPTIONS only: ${method} needs a path`);
  }
  // 200 with no content rather than 204, which may not carry the Content-Length: 0 RFC 9110 asks
  res.writeHead(200, {
    allow: SERVER_METHODS.join(', '),
    'content-length': '0',
    'cache-control': 'no-store',
  });
  res.end();
}

/** What an API mounted in front of the plain routes gets: the request, parsed once. */
export type ApiHandler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean;

/**
 * An HTTP(S) server that answers GET (and HEAD) routes by exact path; any other path is a
 * NOT_FOUND, another method a 405, a target that is not a URL, an HTTP/1.1 request without
 * `Host` or one node:http cannot parse a BAD_REQUEST (headers past its limit a 431): always the
 * API's error shape, and never a crash. `first`, when given, sees every request before and answers it
 * when it returns true (an API with its own methods and path parameters); a WireError it
 * throws is answered as one. `OPTIONS *` is told the server's methods. A request asking for
 * an Upgrade is answered as an ordinary one and its connection closed, unless `upgrades` has
 * a route for its path that takes it.
 */
export function createHttpServer(
  routes: Record<string, Route>,
  tls?: { cert: string; key: string },
  first?: ApiHandler,
  upgrades?: Record<string, UpgradeRoute>,
): http.Server {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    try {
      if (req.httpVersion === '1.1' && req.headers.host === undefined) {
        // as node:http answers it: the connection cannot be trusted to frame another request
        res.setHeader('connection', 'close');
        throw new WireError('BAD_REQUEST', 'an HTTP/1.1 request needs a Host header');
      }
      // node:http reads nothing more on a connection whose request asked for an upgrade
      if (asksUpgrade(req)) res.setHeader('connection', 'close');
      if (req.url === '*') return answerAsterisk(req, res);
      const url = requestUrl(req);
      if (first?.(req, res, url)) return;
      const route = routes[url.pathname];
      if (!route) {
        req.resume();
        sendError(res, new WireError('NOT_FOUND', `no such path: ${url.pathname.slice(0, 100)}`));
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendMethodNotAllowed(req, res, ['GET']);
        return;
      }
      Promise.resolve(route(req, res)).catch((err: unknown) => failed(res, err));
    } catch (err) {
      req.resume();
      failed(res, err);
    }
  };
  // the missing Host is answered above, in the API's shape, not with node:http's empty 400
  const options = { requireHostHeader: false };
  const server = tls
    ? https.createServer(
        { ...options, cert: readFileSync(tls.cert), key: readFileSync(tls.key) },
        handler,
      )
    : http.createServer(options, handler);
  server.on('clientError', answerClientError);
  server.on('connect', refuseConnect);
  if (upgrades) routeUpgrades(server, handler, upgrades);
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  return server;
}

/** Answers what a handler threw: a WireError as itself, anything else as an internal error. */
function failed(res: http.ServerResponse, err: unknown): void {
  if (err instanceof WireError) sendError(res, err);
  else sendError(res, new WireError('UNAVAILABLE', 'internal error'), 500);
}
