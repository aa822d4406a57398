#!/usr/bin/env node
import { environment, loadProxyConfig } from '../shared/config.js';
import { onStopSignals, reportFatal } from '../shared/lifecycle.js';
import { createLogger } from '../shared/log.js';
import { PetrelProxy } from './proxy.js';

/** `petrel-proxy [port]` */
async function main(): Promise<void> {
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
  reportFatal(err, (text) => process.stderr.write(`petrel-proxy: ${text}\n`));
  process.exit(1);
});
