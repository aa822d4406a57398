import type http from 'node:http';
import { createHttpServer, createRegistry, gaugeOf, sendJson } from '../shared/http.js';
import { createApiHandler } from './http/router.js';
import type { PetrelNode } from './node.js';

/** The node's HTTP API (`/v1`), `/healthz` and `/metrics`, on HTTP_PORT when it is set. */
export function createNodeHttp(node: PetrelNode): http.Server {
  const registry = createRegistry('petrel_node_');
  const snap = () => node.snapshot();
  const gauge = (name: string, help: string, read: () => number) =>
    gaugeOf(registry, `petrel_node_${name}`, help, read);
  gauge('queued_jobs', 'Jobs waiting for a slot on this node', () => snap().queued);
  gauge('running_jobs', 'Jobs running on this node', () => snap().running);
  gauge('slots', 'Jobs this node runs at once', () => snap().slots);
  gauge('open_tickets', 'Tickets issued here without a result yet', () => snap().openTickets);
  gauge('client_connections', 'Open client connections', () => snap().clients);
  gauge('proxy_connected', '1 while joined to the proxy', () => (snap().proxyConnected ? 1 : 0));
  gauge('submitted_total', 'Tickets issued by this node', () => snap().submitted);
  gauge('executed_total', 'Job runs finished on this node', () => snap().executed);
  gauge('local_runs_total', 'Jobs run here under LOCAL_FALLBACK', () => snap().localRuns);
  gauge('commits_total', 'SQLite group commits', () => snap().commits);

  return createHttpServer(
    {
      '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok', ...snap() }),
      '/readyz': (_req, res) => {
        const s = snap();
        sendJson(res, s.proxyConnected ? 200 : 503, { ready: s.proxyConnected, ...s });
      },
      '/metrics': async (_req, res) => {
        const body = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(body);
      },
    },
    node.cfg.TLS_CERT && node.cfg.TLS_KEY
      ? { cert: node.cfg.TLS_CERT, key: node.cfg.TLS_KEY }
      : undefined,
    createApiHandler(node.api, { clientToken: node.cfg.CLIENT_TOKEN }),
  );
}
