import type http from 'node:http';
import { createHttpServer, sendJson } from '../shared/http.js';
import { DashboardApi, HISTORY_PERIOD_MS } from './dashboard-api.js';
import { dashboardHtml } from './dashboard.js';
import type { PetrelProxy } from './proxy.js';

/**
 * `/healthz`, `/readyz`, `/metrics`, the dashboard at `/` and its JSON under `/api/`; the
 * WebSocket nodes join at `/cluster`.
 */
export function createProxyHttp(proxy: PetrelProxy): http.Server {
  const html = dashboardHtml();
  const cfg = proxy.cfg;
  const api = new DashboardApi(
    {
      snapshot: () => proxy.snapshot(),
      // a follower knows no jobs: its dashboard finds none
      view: (ticket) => proxy.activeTerm()?.scheduler.view(ticket) ?? null,
      list: (filter) => proxy.activeTerm()?.scheduler.listJobs(filter) ?? { jobs: [] },
      schedules: (limit, runs) =>
        proxy.activeTerm()?.scheduler.listSchedules(limit, runs) ?? { schedules: [], total: 0 },
      readLog: (req) => proxy.scheduler.readLog(req),
      retry: (ticket) => proxy.scheduler.retry(ticket),
      cancel: (ticket) => proxy.scheduler.cancel(ticket),
    },
    { token: cfg.DASHBOARD_TOKEN },
  );
  const server = createHttpServer(
    {
      '/': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(html);
      },
      '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok' }),
      '/readyz': (_req, res) => {
        const group = proxy.groupView();
        const nodes = proxy.activeTerm()?.scheduler.connectedCount ?? 0;
        // a follower refuses nodes, so it is not ready; the body says who leads
        sendJson(res, nodes > 0 ? 200 : 503, { ready: nodes > 0, nodes, ...group });
      },
      '/metrics': async (_req, res) => {
        const { body, contentType } = await proxy.metrics.metrics.render();
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
      },
    },
    cfg.TLS_CERT && cfg.TLS_KEY ? { cert: cfg.TLS_CERT, key: cfg.TLS_KEY } : undefined,
    (req, res, url) => api.handle(req, res, url),
    // nodes join over a WebSocket; any other upgrade is answered as an ordinary request
    { '/cluster': (req, socket, head) => proxy.clusterServer.upgrade(req, socket, head) },
  );
  // the history fills while the proxy listens, whether or not anyone watches
  const sampler = setInterval(() => api.record(), HISTORY_PERIOD_MS);
  sampler.unref();
  server.on('listening', () => api.record());
  server.on('close', () => clearInterval(sampler));
  return server;
}
