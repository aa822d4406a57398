import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { tempDir } from './helpers/cluster.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * A program whose stdout's reader is gone (a log shipper that died, `| head`) still stops on
 * SIGTERM: its next log line fails, and the lines after it are dropped.
 */
for (const [which, env] of [
  ['proxy', { PROXY_PORT: '0' }],
  ['node', { CLIENT_PORT: '0', CLIENT_HOST: '127.0.0.1', PROXY_URL: 'ws://127.0.0.1:9/cluster' }],
] as const) {
  t.test(`the ${which} stops on SIGTERM after its stdout is closed`, async (t) => {
    const child = spawn(process.execPath, [join(root, 'dist', which, 'main.js')], {
      env: {
        PATH: process.env.PATH ?? '',
        DATA_DIR: tempDir(t.teardown),
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) if (/listening/.test(line)) break;
    child.stdout.destroy(); // the reader goes away: the next line written fails with EPIPE
    child.kill('SIGTERM');
    const deadline = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000).unref());
    const outcome = await Promise.race([exited, deadline]);
    t.not(outcome, 'hung', 'it exited');
    t.equal(child.signalCode, null, 'by itself, not killed by a signal');
  });
}
