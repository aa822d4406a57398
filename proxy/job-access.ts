import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { WireError } from '../shared/errors.js';
import { isLoopback } from './cluster-server.js';

/**
 * Who may read jobs through the proxy's HTTP (`/api/jobs…`: tickets, arguments, outputs,
 * logs, and retry). A ticket is the capability to read a result, and that list hands out
 * every ticket, so it is guarded like the node's client port: with `DASHBOARD_TOKEN` set, a
 * request must carry `Authorization: Bearer <token>`; without it, only a browser on the
 * proxy's own machine is served (`npm start`, `kubectl port-forward`), as nodes without
 * `CLUSTER_SECRET` are. The rest of the dashboard (the cluster's numbers) stays open.
 */

/** What a request presents: its peer's address and its headers. */
export interface JobAccessRequest {
  readonly peer: string | undefined;
  readonly host: string | undefined;
  readonly authorization: string | undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * A host a browser names when it talks to this machine itself. A loopback peer naming any
 * other host came through something (a reverse proxy, a page's DNS rebinding) that forwards
 * other people's requests, and is not served without the token.
 */
export function isLocalHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host
    .trim()
    .toLowerCase()
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1');
  return (
    name === 'localhost' || name.endsWith('.localhost') || (isIP(name) !== 0 && isLoopback(name))
  );
}

/** Decides each request: null to serve it, or the error to answer. */
export function jobAccess(token: string | undefined): (req: JobAccessRequest) => WireError | null {
  if (token === undefined) {
    return (req) =>
      isLoopback(req.peer) && isLocalHost(req.host)
        ? null
        : new WireError(
            'FORBIDDEN',
            'jobs are shown only on the proxy machine itself: set DASHBOARD_TOKEN on the proxy ' +
              'to show them elsewhere',
          );
  }
  const expected = digest(token);
  return (req) => {
    const m = /^Bearer\s+(.+)$/i.exec(req.authorization ?? '');
    if (m !== null && timingSafeEqual(digest((m[1] as string).trim()), expected)) return null;
    return new WireError(
      'UNAUTHORIZED',
      m === null ? 'send Authorization: Bearer <DASHBOARD_TOKEN>' : 'wrong token',
    );
  };
}
