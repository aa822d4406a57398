import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { launcherPorts } from '../scripts/launcher-config.js';
import { freePort, tempDir } from './helpers/cluster.js';

t.test('npm start: defaults, and empty values count as unset', async (t) => {
  const want = { nodes: 3, proxyPort: 8080, clientBase: 9000, httpBase: 9100 };
  t.same(launcherPorts({}), want);
  t.same(launcherPorts({ NODES: '', PROXY_PORT: '', CLIENT_PORT: '', HTTP_PORT: '' }), want);
});

t.test('npm start: bad values are each named, all at once', async (t) => {
  const r = launcherPorts({ NODES: '0', PROXY_PORT: 'abc', CLIENT_PORT: '0x2328' });
  t.ok('problems' in r);
  const problems = 'problems' in r ? r.problems : [];
  t.equal(problems.length, 3);
  t.match(problems[0], /^NODES="0": must be a whole number from 1 to 64/);
  t.match(problems[1], /^PROXY_PORT="abc": must be a port number/);
  t.match(problems[2], /^CLIENT_PORT="0x2328": must be a port number/);
  t.match(launcherPorts({ NODES: ' ' }), { problems: [/NODES=" "/] });
});

t.test('npm start: the last port a node may use is 65535, no further', async (t) => {
  t.match(launcherPorts({ NODES: '1', CLIENT_PORT: '65535' }), { clientBase: 65535 });
  t.match(launcherPorts({ NODES: '2', CLIENT_PORT: '65535' }), {
    problems: [/CLIENT_PORT="65535": must be a port number from 1 to 65534/],
  });
});

t.test('npm start: port ranges that overlap are refused before anything starts', async (t) => {
  t.match(launcherPorts({ CLIENT_PORT: '9099' }), {
    problems: [/CLIENT_PORT=9099 and HTTP_PORT=9100 overlap/],
  });
  t.match(launcherPorts({ NODES: '3', PROXY_PORT: '9001' }), {
    problems: [/PROXY_PORT=9001 is one of the nodes' ports 9000\.\.9002 \(from CLIENT_PORT\)/],
  });
  t.match(launcherPorts({ PROXY_PORT: '9102' }), { problems: [/from HTTP_PORT/] });
  t.match(
    launcherPorts({ NODES: '3', CLIENT_PORT: '9097' }),
    { clientBase: 9097 },
    'adjacent is fine',
  );
});

t.test('npm start: HTTP_PORT=0 or off runs the nodes without their HTTP API', async (t) => {
  for (const off of ['0', 'off', 'OFF', ' Off ', '00']) {
    t.same(
      launcherPorts({ HTTP_PORT: off }),
      { nodes: 3, proxyPort: 8080, clientBase: 9000, httpBase: 0 },
      `HTTP_PORT=${JSON.stringify(off)}`,
    );
  }
  // no HTTP ports, so nothing for the client ports or the proxy's to overlap
  t.match(launcherPorts({ HTTP_PORT: 'off', CLIENT_PORT: '9099' }), { clientBase: 9099 });
  t.match(launcherPorts({ HTTP_PORT: '0', PROXY_PORT: '9100' }), { proxyPort: 9100, httpBase: 0 });
  t.match(launcherPorts({ HTTP_PORT: 'no' }), {
    problems: [/^HTTP_PORT="no": must be 0 or off \(no HTTP API\), or a port number from 1 to/],
  });
});

const launcher = join(
  fileURLToPath(new URL('..', import.meta.url)),
  'dist',
  'scripts',
  'local-cluster.js',
);

t.test('npm start with overlapping ports stops at once and starts nothing', async (t) => {
  const dir = tempDir(t.teardown);
  const port = await freePort();
  const child = spawn(process.execPath, [launcher], {
    env: {
      PATH: process.env.PATH ?? '',
      NODES: '2',
      PROXY_PORT: String(port),
      CLIENT_PORT: String(port + 1),
      HTTP_PORT: String(port + 2),
      DATA_DIR: join(dir, 'data'),
    },
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 1);
  t.match(stderr, /^npm start: CLIENT_PORT=\d+ and HTTP_PORT=\d+ overlap/);
  t.equal(stderr.trim().split('\n').length, 1, 'one line');
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
  t.notMatch(stdout, /starting/, 'nothing started');
  t.notOk(existsSync(join(dir, 'data')), 'no data directory made');
});
