import t from 'tap';
import { JoinTrouble } from '../node/join-trouble.js';
import type { Logger } from '../shared/log.js';
import {
  freePort,
  LineClient,
  Proc,
  spawnNode,
  spawnProxy,
  tempDir,
  until,
} from './helpers/cluster.js';

/** A logger that keeps what was said at warn and error. */
function recorder(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (_fields: unknown, msg?: string) =>
    void lines.push(`${level} ${msg}`);
  const log = { warn: at('warn'), error: at('error'), info: at('info'), debug: () => {} };
  return { log: log as unknown as Logger, lines };
}

/** Node connections the proxy refused, by its metrics. */
async function refusals(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('petrel_proxy_refused_connections_total '));
  return Number(line?.split(' ')[1] ?? 0);
}

t.test('failed joins are said after a quiet while, then seldom, and their end once', (t) => {
  let now = 0;
  const { log, lines } = recorder();
  const trouble = new JoinTrouble(log, 3000, 30_000, () => now);
  const url = 'ws://p:1/cluster';
  for (; now < 2900; now += 500) trouble.failed(url, 'connect ECONNREFUSED');
  t.same(lines, [], 'a proxy starting with its nodes is no trouble');
  for (; now < 20_000; now += 500) trouble.failed(url, 'connect ECONNREFUSED');
  t.equal(lines.length, 1);
  t.match(
    lines[0],
    /^warn cannot join a proxy of PROXY_URL for 3 s \(ws:\/\/p:1\/cluster: connect ECONNREFUSED\)/,
  );
  for (; now < 34_000; now += 500) trouble.failed(url, 'connect ECONNREFUSED');
  t.equal(lines.length, 2, 'said again after a while');
  trouble.joined(url);
  t.match(lines[2], /^info joined the proxy at ws:\/\/p:1\/cluster after \d+ failed attempts/);
  trouble.failed(url, 'NODE_ID n1 is in use', true);
  trouble.failed(url, 'NODE_ID n1 is in use', true);
  t.equal(lines.length, 4, 'a refusal is an error at once, said once');
  t.match(
    lines[3],
    /^error the proxy at ws:\/\/p:1\/cluster refused this node: NODE_ID n1 is in use/,
  );
  t.end();
});

t.test('a node whose PROXY_URL reaches no proxy says so, naming the URL and why', async (t) => {
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/cluster`;
  const node = Proc.start(
    'node',
    { CLIENT_HOST: '127.0.0.1', CLIENT_PORT: '0', PROXY_URL: url, DATA_DIR: tempDir(t.teardown) },
    t.teardown,
  );
  const line = await node.waitFor('cannot join a proxy', 15_000);
  t.match(line, url);
  t.match(line, 'ECONNREFUSED');
  t.match(line, '"level":40');
});

t.test(
  'a second node with a NODE_ID in use is refused with one clear line; the first stays',
  async (t) => {
    const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
    const first = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'twin' });
    const second = Proc.start(
      'node',
      {
        CLIENT_HOST: '127.0.0.1',
        CLIENT_PORT: '0',
        PROXY_URL: `ws://127.0.0.1:${proxy.port}/cluster`,
        DATA_DIR: tempDir(t.teardown),
        NODE_ID: 'twin',
        INFO_PERIOD: '50',
      },
      t.teardown,
    );
    const refused = await second.waitFor('refused this node', 15_000);
    t.match(refused, 'NODE_ID twin is in use');
    t.match(refused, '"level":50');
    // the second keeps trying a while: the first must not be thrown out meanwhile
    await until(async () => (await refusals(proxy.port)) >= 3, 15_000, 'three refusals');
    const said = proxy.proc.output.filter((l) => l.includes('NODE_ID twin is in use'));
    t.equal(said.length, 1, 'the proxy says a refusal it repeats once');
    t.notOk(
      first.proc.output.some((l) => l.includes('lost the proxy')),
      'the first node kept its link',
    );
    t.equal(second.output.filter((l) => l.includes('refused this node')).length, 1, 'said once');
    const c = await LineClient.connect(first.port, t.teardown);
    const ticket = (await c.ask('SUBMIT echo hi')).split(' ')[1];
    t.match(await c.ask(`WAIT ${ticket} 10000`), /^OK .*"state":"done"/);
    // once the first is gone for good, the second takes the id
    await first.proc.kill('SIGKILL');
    await second.waitFor('joined the proxy', 15_000);
  },
);
