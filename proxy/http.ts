import type http from 'node:http';
import { Gauge } from 'prom-client';
import { createHttpServer, createRegistry, gaugeOf, sendJson } from '../shared/http.js';
import { dashboardHtml } from './dashboard.js';
import type { PetrelProxy } from './proxy.js';

/** `/healthz`, `/readyz`, `/metrics`, `/api/cluster` and the dashboard at `/`. */
export function createProxyHttp(proxy: PetrelProxy): http.Server {
  const registry = createRegistry('petrel_proxy_');
  const gauge = (name: string, help: string, read: () => number) =>
    gaugeOf(registry, `petrel_proxy_${name}`, help, read);
  const s = () => proxy.scheduler;
  gauge('queued_jobs', 'Jobs waiting in the global queue', () => s().queueLength);
  gauge('live_jobs', 'Jobs not finished or not yet delivered', () => s().liveJobs);
  gauge('connected_nodes', 'Nodes joined now', () => s().connectedNodes().length);
  gauge('db_commits_total', 'SQLite group commits', () => proxy.committer.commits);
  gauge(
    'rejected_frames_total',
    'Frames refused as invalid',
    () => proxy.clusterServer.rejectedFrames,
  );
  gauge(
    'refused_connections_total',
    'Node connections refused',
    () => proxy.clusterServer.refusedConnections,
  );
  new Gauge({
    name: 'petrel_proxy_jobs_total',
    help: 'Jobs by outcome since the database was created',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      for (const [k, v] of Object.entries(s().counters)) this.set({ outcome: k }, v);
    },
  });
  const html = dashboardHtml();
  const cfg = proxy.cfg;
  return createHttpServer(
    {
      '/': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(html);
      },
      '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok' }),
      '/readyz': (_req, res) => {
        const nodes = s().connectedNodes().length;
        sendJson(res, nodes > 0 ? 200 : 503, { ready: nodes > 0, nodes });
      },
      '/api/cluster': (_req, res) => sendJson(res, 200, proxy.snapshot()),
      '/metrics': async (_req, res) => {
        const body = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(body);
      },
    },
    cfg.TLS_CERT && cfg.TLS_KEY ? { cert: cfg.TLS_CERT, key: cfg.TLS_KEY } : undefined,
  );
}
