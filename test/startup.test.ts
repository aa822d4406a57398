import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { freePort, Proc, tempDir } from './helpers/cluster.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A port held by another program for the length of the test. */
async function takenPort(teardown: (fn: () => unknown) => void): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', () => r()));
  teardown(() => new Promise((r) => server.close(r)));
  return (server.address() as net.AddressInfo).port;
}

/** Checks the operator's view of a start-up failure: one line naming `names`, no stack. */
async function failsWith(
  t: Test,
  p: { exited: Promise<number | null>; output: string[] },
  names: Array<string | RegExp>,
) {
  const code = await p.exited;
  t.not(code, 0, 'exits non-zero');
  t.equal(p.output.length, 1, `one line: ${p.output.join(' | ')}`);
  for (const n of names) t.match(p.output[0] ?? '', n);
  t.notMatch(p.output.join('\n'), /^\s+at /m, 'no stack trace');
}

const nodeEnv = (t: Test, env: Record<string, string> = {}) => ({
  CLIENT_HOST: '127.0.0.1',
  CLIENT_PORT: '0',
  PROXY_URL: 'ws://127.0.0.1:9/cluster',
  DATA_DIR: tempDir(t.teardown),
  LOG_LEVEL: 'silent',
  ...env,
});

t.test('the proxy’s port in use: one line naming PROXY_PORT', async (t) => {
  const port = await takenPort(t.teardown);
  const p = Proc.start(
    'proxy',
    { PROXY_PORT: String(port), DATA_DIR: tempDir(t.teardown), LOG_LEVEL: 'silent' },
    t.teardown,
  );
  await failsWith(t, p, ['ERR_PORT_UNAVAILABLE', String(port), 'set PROXY_PORT']);
});

t.test('a node’s client or HTTP port in use: one line naming the variable', async (t) => {
  const port = await takenPort(t.teardown);
  const client = Proc.start('node', nodeEnv(t, { CLIENT_PORT: String(port) }), t.teardown);
  await failsWith(t, client, [String(port), 'set CLIENT_PORT']);
  const http = Proc.start('node', nodeEnv(t, { HTTP_PORT: String(port) }), t.teardown);
  await failsWith(t, http, [String(port), 'set HTTP_PORT']);
});

t.test('bad variables: one line naming each', async (t) => {
  const p = Proc.start('node', nodeEnv(t, { SLOTS: 'many', DURABILITY: 'often' }), t.teardown);
  await failsWith(t, p, ['ERR_CONFIG_INVALID', 'SLOTS="many"', 'DURABILITY="often"']);
  const q = Proc.start('proxy', { NODE_TIMEOUT: '-1', LOG_LEVEL: 'silent' }, t.teardown);
  await failsWith(t, q, ['NODE_TIMEOUT="-1"', 'at least']);
});

t.test('an unreadable file: one line naming its variable', async (t) => {
  const missing = join(tempDir(t.teardown), 'nowhere.pem');
  const p = Proc.start('node', nodeEnv(t, { TLS_CERT: missing, TLS_KEY: missing }), t.teardown);
  await failsWith(t, p, ['ERR_FILE_UNREADABLE', 'TLS_CERT', missing, 'no such file']);
  const q = Proc.start(
    'proxy',
    { TLS_CERT: missing, TLS_KEY: missing, PROXY_PORT: '0', LOG_LEVEL: 'silent' },
    t.teardown,
  );
  await failsWith(t, q, ['ERR_FILE_UNREADABLE', 'TLS_CERT']);
});

t.test('a data directory this user may not write: one line naming DATA_DIR', async (t) => {
  const parent = tempDir(t.teardown);
  const locked = join(parent, 'locked');
  mkdirSync(locked);
  chmodSync(locked, 0o555);
  t.teardown(() => chmodSync(locked, 0o755));
  // root may write anywhere: the check then runs as an unprivileged user
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  for (const [which, dir] of [
    ['node', join(locked, 'node')],
    ['proxy', locked],
  ] as const) {
    // without the test runner's hooks, which could not write their own files as that user
    const argv = ['-u', 'NODE_OPTIONS', process.execPath, join(root, 'dist', which, 'main.js')];
    const child = spawn('env', argv, {
      env: { PATH: process.env.PATH ?? '', ...nodeEnv(t, { DATA_DIR: dir }), PROXY_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...asUser,
    });
    const p = new Proc(child);
    t.teardown(() => child.kill('SIGKILL'));
    await failsWith(t, p, ['ERR_DATA_DIR', dir, 'permission denied', 'set DATA_DIR']);
  }
});

t.test('npm start with a port in use says which variable moves it', async (t) => {
  const port = await takenPort(t.teardown);
  const child = spawn(process.execPath, [join(root, 'dist', 'scripts', 'local-cluster.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      PROXY_PORT: String(port),
      CLIENT_PORT: String(await freePort()),
      DATA_ROOT: tempDir(t.teardown),
      NODES: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = new Proc(child);
  t.teardown(() => child.kill('SIGKILL'));
  await failsWith(t, p, [String(port), 'PROXY_PORT=']);
});
