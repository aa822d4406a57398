import type http from 'node:http';
import { createHttpServer, sendJson } from '../shared/http.js';
import { createApiHandler } from './http/router.js';
import type { PetrelNode } from './node.js';

/** The node's HTTP API (`/v1`), `/healthz` and `/metrics`, on HTTP_PORT when it is set. */
export function createNodeHttp(node: PetrelNode): http.Server {
  const snap = () => node.snapshot();
  return createHttpServer(
    {
      '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok', ...snap() }),
      '/readyz': (_req, res) => {
        const s = snap();
        sendJson(res, s.proxyConnected ? 200 : 503, { ready: s.proxyConnected, ...s });
      },
      '/metrics': async (_req, res) => {
        const { body, contentType } = await node.metrics.metrics.render();
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
      },
    },
    node.cfg.TLS_CERT && node.cfg.TLS_KEY
      ? { cert: node.cfg.TLS_CERT, key: node.cfg.TLS_KEY }
      : undefined,
    createApiHandler(node.api, { clientToken: node.cfg.CLIENT_TOKEN }),
  );
}
