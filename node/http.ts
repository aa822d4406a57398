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
      // ready while it takes new jobs, joined or not (with no proxy leading it still issues
      // tickets and forwards them later): its disk full or stopping, clients go elsewhere
      '/readyz': (_req, res) => {
        const s = snap();
        const reason = s.draining ? 'stopping' : s.diskFull ? 'the disk is full' : undefined;
        sendJson(res, reason ? 503 : 200, { ready: !reason, ...(reason && { reason }), ...s });
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
