#!/usr/bin/env node
import { backupCommand } from '../shared/backup-copy.js';
import { backupRequest } from '../shared/backup.js';
import { environment, loadProxyConfig } from '../shared/config.js';
import { onStopSignals, reportFatal } from '../shared/lifecycle.js';
import { createLogger } from '../shared/log.js';
import { argumentsProblem } from '../shared/startup.js';
import { stampIncarnation } from './incarnation.js';
import { PetrelProxy } from './proxy.js';
import { PROXY_SCHEMA_VERSION } from './schema.js';

const USAGE =
  'usage: petrel-proxy [port]\n' +
  '       petrel-proxy --backup <file>   copy DATA_DIR/proxy.db to <file> while the proxy runs\n' +
  'Settings are environment variables (or a .env file in the working directory):\n' +
  '  PROXY_PORT (8080), PROXY_HOST (0.0.0.0), DATA_DIR (./data/proxy), CLUSTER_SECRET,\n' +
  "  POLICY, NODE_TIMEOUT, LOG_LEVEL, ...: the README's Configuration lists them all.\n";

/** `petrel-proxy [port]`, or `petrel-proxy --backup <file>` */
async function main(): Promise<void> {
  const backup = backupRequest(process.argv.slice(2), 'petrel-proxy');
  if (backup) {
    const target = () => ({
      dataDir: loadProxyConfig(environment()).DATA_DIR,
      fileName: 'proxy.db',
      schemaVersion: PROXY_SCHEMA_VERSION,
      // a proxy restored from the copy must differ from the one that went on: nodes then
      // tell it every open ticket, including those it acknowledged after the copy
      stamp: stampIncarnation,
    });
    process.exitCode = backupCommand('petrel-proxy', backup, target);
    return;
  }
  const args = argumentsProblem(process.argv.slice(2), USAGE);
  if (args) {
    (args.code === 0 ? process.stdout : process.stderr).write(
      args.code === 0 ? args.text : `petrel-proxy: ${args.text}\n`,
    );
    process.exit(args.code);
  }
  const cfg = loadProxyConfig(environment(), process.argv.slice(2));
  const log = createLogger('proxy', cfg.LOG_LEVEL);
  const proxy = new PetrelProxy(cfg, log);
  proxy.onFatal = () => process.exit(1);
  await proxy.start();
  onStopSignals(
    log,
    () => proxy.close(),
    (code) => process.exit(code),
  );
}

main().catch((err: unknown) => {
  reportFatal(err, 'petrel-proxy', (text) => process.stderr.write(text + '\n'));
  process.exit(1);
});
