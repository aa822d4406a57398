#!/usr/bin/env node
import { backupCommand } from '../shared/backup-copy.js';
import { backupRequest } from '../shared/backup.js';
import { environment, loadNodeConfig } from '../shared/config.js';
import { onStopSignals, reportFatal } from '../shared/lifecycle.js';
import { createLogger } from '../shared/log.js';
import { argumentsProblem, listenError } from '../shared/startup.js';
import { createNodeHttp } from './http.js';
import { PetrelNode } from './node.js';
import { NODE_SCHEMA_VERSION } from './schema.js';

const USAGE =
  'usage: petrel-node [proxyHost] [proxyPort]\n' +
  '       petrel-node --backup <file>   copy DATA_DIR/node.db to <file> while the node runs\n' +
  'Settings are environment variables (or a .env file in the working directory):\n' +
  '  PROXY_URL (ws://127.0.0.1:8080/cluster), CLIENT_PORT (9000), HTTP_PORT (0: off),\n' +
  "  DATA_DIR (./data/node-<id>), SLOTS, EXEC_ALLOW, LOG_LEVEL, ...: the README's\n" +
  '  Configuration lists them all.\n';

/** `petrel-node [proxyHost] [proxyPort]`, or `petrel-node --backup <file>` */
async function main(): Promise<void> {
  const backup = backupRequest(process.argv.slice(2), 'petrel-node');
  if (backup) {
    const target = () => ({
      dataDir: loadNodeConfig(environment()).DATA_DIR,
      fileName: 'node.db',
      schemaVersion: NODE_SCHEMA_VERSION,
    });
    process.exitCode = backupCommand('petrel-node', backup, target);
    return;
  }
  const args = argumentsProblem(process.argv.slice(2), USAGE);
  if (args) {
    (args.code === 0 ? process.stdout : process.stderr).write(
      args.code === 0 ? args.text : `petrel-node: ${args.text}\n`,
    );
    process.exit(args.code);
  }
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
  reportFatal(err, 'petrel-node', (text) => process.stderr.write(text + '\n'));
  process.exit(1);
});
