import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { HTTP_STATUS, WIRE_CODES, type WireError } from './errors.js';

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
 * An HTTP(S) server that answers GET routes by exact path; anything else is 404/405.
 * `first`, when given, sees every request before and answers it when it returns true (an API
 * with its own methods and path parameters).
 */
export function createHttpServer(
  routes: Record<string, Route>,
  tls?: { cert: string; key: string },
  first?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean,
): http.Server {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (first?.(req, res)) return;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routes[path];
    if (!route) {
      sendJson(res, 404, { error: 'NOT_FOUND' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'METHOD_NOT_ALLOWED' });
      return;
    }
    Promise.resolve(route(req, res)).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'INTERNAL' });
      else res.destroy();
    });
  };
  const server = tls
    ? https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler)
    : http.createServer(handler);
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  return server;
}
