import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { closeWith } from './http-client-error.js';

/**
 * A path that takes protocol upgrades (the proxy's WebSocket at `/cluster`): returns false for
 * a request it does not take (another protocol, another method), which is then answered as an
 * ordinary request.
 */
export type UpgradeRoute = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => boolean;

type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * Routes `server`'s upgrade requests: a path in `routes` may take its own; any other request
 * that asks for an upgrade is answered by `handler` as an ordinary one (RFC 9110 §7.8 lets a
 * server ignore Upgrade: `GET /healthz` with `Upgrade: h2c` gets its 200, an unknown path its
 * JSON 404), and the connection is closed after the answer. Without an upgrade listener,
 * node:http does the same itself, on the node's server.
 */
export function routeUpgrades(
  server: http.Server,
  handler: RequestHandler,
  routes: Record<string, UpgradeRoute>,
): void {
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const q = (req.url ?? '').indexOf('?');
    const path = q < 0 ? req.url : req.url?.slice(0, q);
    const route = path !== undefined && Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route?.(req, socket, head)) return;
    answerAsRequest(handler, req, socket);
  });
}

/** Answers an upgrade request node:http handed over with the server's own request handler. */
function answerAsRequest(handler: RequestHandler, req: http.IncomingMessage, socket: Duplex) {
  // node:http has let the socket go: a peer's reset must not become an uncaught error
  socket.on('error', () => socket.destroy());
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const res = new http.ServerResponse(req);
  // `Connection: close`: what followed the request on this socket is no longer read
  res.shouldKeepAlive = false;
  res.assignSocket(socket as net.Socket);
  res.once('finish', () => {
    res.detachSocket(socket as net.Socket);
    closeWith(socket, '');
  });
  handler(req, res);
}
