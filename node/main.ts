#!/usr/bin/env node
import { environment, loadNodeConfig } from '../shared/config.js';
import { onStopSignals, reportFatal } from '../shared/lifecycle.js';
import { createLogger } from '../shared/log.js';
import { listenError } from '../shared/startup.js';
import { createNodeHttp } from './http.js';
import { PetrelNode } from './node.js';

/** `petrel-node [proxyHost] [proxyPort]` */
async function main(): Promise<void> {
  const cfg = loadNodeConfig(environment(), process.argv.slice(2));
  const log = createLogger('node', cfg.LOG_LEVEL);
  const node = new PetrelNode(cfg, log);
  node.onFatal = () => process.exit(1);
  await node.start();
  const http = cfg.HTTP_PORT > 0 ? createNodeHttp(node) : undefined;
  if (http) {
    const where = {
      host: cfg.CLIENT_HOST,
      port: cfg.HTTP_PORT,
      portVar: 'HTTP_PORT',
      hostVar: 'CLIENT_HOST',
    };
    await new Promise<void>((resolve, reject) => {
      http.once('error', (err) => reject(listenError(err, where)));
      http.listen(cfg.HTTP_PORT, cfg.CLIENT_HOST, () => resolve());
    });
    log.info(
      { port: cfg.HTTP_PORT },
      `HTTP API on http://${cfg.CLIENT_HOST}:${cfg.HTTP_PORT}/v1 (and /healthz, /readyz, /metrics)`,
    );
  }
  onStopSignals(
    log,
    async (force) => {
      http?.close();
      http?.closeAllConnections();
      await node.close(force);
    },
    (code) => process.exit(code),
  );
}

main().catch((err: unknown) => {
  reportFatal(err, (text) => process.stderr.write(`petrel-node: ${text}\n`));
  process.exit(1);
});
