import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { asHolder, inUseMessage } from '../shared/data-dir-lock.js';
import { dirsToMake } from '../shared/data-dir.js';
import { LineClient, Proc, spawnNode, spawnProxy, startProxy, tempDir } from './helpers/cluster.js';

/**
 * One DATA_DIR, one live process: a second one started on it is refused in one line naming
 * the directory and its holder, and the directory is free again the moment its holder dies.
 */

/** Checks a refused start: non-zero exit, one line naming `names`, no stack. */
async function refused(t: Test, p: Proc, names: Array<string | RegExp>): Promise<void> {
  const code = await Promise.race([
    p.exited,
    new Promise<string>((r) => setTimeout(() => r('still running'), 30_000).unref()),
  ]);
  t.not(code, 0, 'exits non-zero');
  t.not(code, 'still running', 'exits at once');
  t.equal(p.output.length, 1, `one line: ${p.output.join(' | ')}`);
  for (const n of names) t.match(p.output[0] ?? '', n);
  t.notMatch(p.output.join('\n'), /^\s+at /m, 'no stack trace');
}

const nodeEnv = (dir: string, proxyPort: number) => ({
  CLIENT_HOST: '127.0.0.1',
  CLIENT_PORT: '0',
  PROXY_URL: `ws://127.0.0.1:${proxyPort}/cluster`,
  DATA_DIR: dir,
});

t.test(
  'a second proxy, or a node, on a proxy’s DATA_DIR is refused; kill -9 frees it',
  async (t) => {
    const dir = tempDir(t.teardown);
    const first = await spawnProxy(t.teardown, dir);
    const holder = `petrel-proxy (pid ${first.proc.child.pid} on host`;

    const second = Proc.start(
      'proxy',
      { PROXY_HOST: '127.0.0.1', PROXY_PORT: '0', DATA_DIR: dir },
      t.teardown,
    );
    await refused(t, second, ['ERR_DATA_DIR', `the data directory ${dir} is in use`, holder]);
    const node = Proc.start('node', nodeEnv(dir, first.port), t.teardown);
    await refused(t, node, ['ERR_DATA_DIR', dir, holder, 'set DATA_DIR']);

    const res = await fetch(`http://127.0.0.1:${first.port}/api/cluster`);
    t.equal(res.status, 200, 'the first proxy still answers');
    t.equal(first.proc.child.exitCode, null, 'and still runs');

    await first.proc.kill('SIGKILL');
    const again = await spawnProxy(t.teardown, dir);
    t.ok(again.port > 0, 'a new proxy starts on the directory at once, nothing to delete');
  },
);

t.test('a second node on a node’s DATA_DIR is refused; the first keeps its jobs', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const dir = tempDir(t.teardown);
  const first = await spawnNode(t.teardown, proxy.port, dir, { NODE_ID: 'a' });

  const second = Proc.start('node', { ...nodeEnv(dir, proxy.port), NODE_ID: 'b' }, t.teardown);
  await refused(t, second, [
    'ERR_DATA_DIR',
    dir,
    `petrel-node (pid ${first.proc.child.pid} on host`,
  ]);

  const c = await LineClient.connect(first.port, t.teardown);
  const ticket = (await c.ask('SUBMIT echo still-here')).slice(3);
  const done = JSON.parse((await c.ask(`WAIT ${ticket} 20000`, 25_000)).slice(3)) as object;
  t.match(done, { state: 'done', output: 'still-here' }, 'the first node still runs jobs');
  c.socket.destroy();

  await first.proc.kill('SIGKILL');
  const again = await spawnNode(t.teardown, proxy.port, dir, { NODE_ID: 'a' });
  const c2 = await LineClient.connect(again.port, t.teardown);
  t.match(await c2.ask(`STATUS ${ticket}`), /^OK done/, 'restarted at once, with its file');
});

t.test('in one process too: a second proxy on a DATA_DIR in use is refused', async (t) => {
  const dir = tempDir(t.teardown);
  const first = await startProxy(t.teardown, {}, dir);
  await t.rejects(startProxy(t.teardown, {}, dir), {
    code: 'ERR_DATA_DIR',
    message: new RegExp(`is in use by petrel-proxy \\(pid ${process.pid} `),
  });
  await first.close();
  const again = await startProxy(t.teardown, {}, dir);
  t.ok(again.port > 0, 'free once the first closed');
});

const noProc = existsSync('/proc/self') ? false : 'needs a /proc file system (Linux)';

t.test(
  'a DATA_DIR that cannot be created is refused in one line, not a hang',
  { skip: noProc },
  async (t) => {
    const dir = '/proc/petrel-data';
    const node = Proc.start('node', nodeEnv(dir, 9), t.teardown);
    await refused(t, node, ['ERR_DATA_DIR', `cannot create the data directory ${dir}`, 'DATA_DIR']);
    const proxy = Proc.start(
      'proxy',
      { PROXY_PORT: '0', DATA_DIR: join(dir, 'deeper') },
      t.teardown,
    );
    await refused(t, proxy, [
      'ERR_DATA_DIR',
      join(dir, 'deeper'),
      'does not accept new directories',
    ]);
  },
);

t.test('dirsToMake: each missing directory, outermost first', (t) => {
  const have = new Set(['/', '/srv']);
  t.same(
    dirsToMake('/srv/petrel/node-1', (p) => have.has(p)),
    ['/srv/petrel', '/srv/petrel/node-1'],
  );
  t.same(
    dirsToMake('/srv', (p) => have.has(p)),
    [],
    'nothing to make',
  );
  t.same(
    dirsToMake('/a', () => false),
    ['/', '/a'],
    'stops at the root',
  );
  t.end();
});

t.test('the refusal names the holder when it is known', (t) => {
  const holder = asHolder({
    program: 'petrel-node',
    pid: 7,
    host: 'h1',
    since: '2026-01-01T00:00:00.000Z',
  });
  t.equal(
    inUseMessage('/d', holder),
    'the data directory /d is in use by petrel-node (pid 7 on host h1, since ' +
      '2026-01-01T00:00:00.000Z): two processes must not share one DATA_DIR; stop that one ' +
      'first, or set DATA_DIR to a directory of its own',
  );
  t.match(inUseMessage('/d', asHolder({ pid: 'x' })), 'in use by another Petrel process');
  t.end();
});
