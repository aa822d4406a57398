import type http from 'node:http';
import { createHttpServer, sendJson } from '../shared/http.js';
import { dashboardHtml } from './dashboard.js';
import type { PetrelProxy } from './proxy.js';

/** `/healthz`, `/readyz`, `/metrics`, `/api/cluster` and the dashboard at `/`. */
export function createProxyHttp(proxy: PetrelProxy): http.Server {
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
        const nodes = proxy.scheduler.connectedNodes().length;
        sendJson(res, nodes > 0 ? 200 : 503, { ready: nodes > 0, nodes });
      },
      '/api/cluster': (_req, res) => sendJson(res, 200, proxy.snapshot()),
      '/metrics': async (_req, res) => {
        const { body, contentType } = await proxy.metrics.metrics.render();
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
      },
    },
    cfg.TLS_CERT && cfg.TLS_KEY ? { cert: cfg.TLS_CERT, key: cfg.TLS_KEY } : undefined,
  );
}
