import { readFileSync } from 'node:fs';
import type { NodeConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { createCommandHandler, type NodeApi } from './commands.js';
import { LineServer } from './line-server.js';

const MAX_LINE_BYTES = 64 * 1024;

/** The client port: the line protocol's server, answering with `api`. */
export function createClientServer(cfg: NodeConfig, api: NodeApi, log: Logger): LineServer {
  const handler = createCommandHandler(api, {
    clientToken: cfg.CLIENT_TOKEN,
    maxAuthFailures: 3,
    listLimit: 1000,
    defaultWaitMs: 30_000,
    maxWaitMs: 3_600_000,
  });
  return new LineServer(
    {
      host: cfg.CLIENT_HOST,
      port: cfg.CLIENT_PORT,
      maxClients: cfg.MAX_CLIENTS,
      maxLineBytes: MAX_LINE_BYTES,
      maxPending: 1024,
      maxUnsentBytes: 1024 * 1024,
      idleTimeoutMs: cfg.CLIENT_IDLE_TIMEOUT,
      tls:
        cfg.TLS_CERT && cfg.TLS_KEY
          ? { cert: readFileSync(cfg.TLS_CERT), key: readFileSync(cfg.TLS_KEY) }
          : undefined,
      log,
    },
    handler,
  );
}
