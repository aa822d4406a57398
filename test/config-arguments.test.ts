import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runDist } from './helpers/petrel-cli.js';
import t from 'tap';
import { loadNodeConfig, loadProxyConfig } from '../shared/config.js';
import { tempDir } from './helpers/cluster.js';
import { refusal } from './helpers/config-refusal.js';

/** Runs a program of dist/ with `args` in a scratch directory; what it printed and its code. */
const run = (program: string, args: string[], dir: string) =>
  runDist(program, args, {
    // a port of its own, so a program that wrongly starts fails fast instead of taking 9000
    env: { CLIENT_PORT: '0', PROXY_URL: 'ws://127.0.0.1:1/cluster' },
    cwd: dir,
    timeoutMs: 10_000,
  });

for (const [program, name] of [
  ['proxy/main.js', 'petrel-proxy'],
  ['node/main.js', 'petrel-node'],
] as const) {
  t.test(`${name} --help prints its usage and starts nothing`, async (t) => {
    const dir = tempDir(t.teardown);
    for (const flag of ['--help', '-h']) {
      const r = await run(program, [flag], dir);
      t.equal(r.code, 0, flag);
      t.match(r.stdout, new RegExp(`^usage: ${name} `));
      t.match(r.stdout, /environment variables/);
      t.equal(r.stderr, '');
    }
    t.notOk(existsSync(join(dir, 'data')), 'no data directory made');
  });

  t.test(`${name} with an option it does not have says so in one line`, async (t) => {
    const dir = tempDir(t.teardown);
    const r = await run(program, ['--port', '8081'], dir);
    t.equal(r.code, 2);
    t.equal(r.stdout, '');
    t.equal(
      r.stderr,
      `${name}: unknown option --port: settings are environment variables (see --help)\n`,
    );
    t.notOk(existsSync(join(dir, 'data')), 'no data directory made');
  });
}

t.test('a negative port argument is still told as a bad port', async (t) => {
  const r = await run('proxy/main.js', ['-1'], tempDir(t.teardown));
  t.equal(r.code, 1);
  t.match(r.stderr, /PROXY_PORT="-1" \(from the arguments -1\): must be at least 0/);
});

t.test('a bad argument is told as coming from the arguments, not the environment', async (t) => {
  t.match(
    refusal(() => loadNodeConfig({}, ['localhost', 'notaport'])),
    'PROXY_URL="ws://localhost:notaport/cluster" (from the arguments localhost notaport): must be',
  );
  t.match(
    refusal(() => loadProxyConfig({}, ['99999'])),
    'PROXY_PORT="99999" (from the arguments 99999): must be at most 65535',
  );
  // set in the environment, it is told as before
  t.match(
    refusal(() => loadProxyConfig({ PROXY_PORT: '99999' })),
    'PROXY_PORT="99999": must be',
  );
});
