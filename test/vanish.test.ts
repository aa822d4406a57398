import { execFileSync, spawn, spawnSync } from 'node:child_process';
import t from 'tap';
import { LineClient, Proc, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';

/**
 * A host that vanishes: a node in its own network namespace whose link is deleted, so no FIN
 * or RST ever arrives. Needs root and iproute2's `ip`.
 */
const ipWorks =
  process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
const skip = ipWorks ? false : 'needs root and ip (Debian: apt-get install iproute2)';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'ignore' });

t.test(
  'a vanished host: its jobs run elsewhere, it rejoins when its link returns',
  { skip },
  async (t) => {
    const id = process.pid % 10_000;
    const ns = `petrel${id}`;
    const [host, peer] = [`pva${id}`, `pvb${id}`];
    const net = `10.${200 + (id % 50)}.${id % 250}`;
    const link = () => {
      ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
      ip('link', 'set', peer, 'netns', ns);
      ip('addr', 'add', `${net}.1/24`, 'dev', host);
      ip('link', 'set', host, 'up');
      ip('-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', peer);
      ip('-n', ns, 'link', 'set', peer, 'up');
    };
    ip('netns', 'add', ns);
    t.teardown(() => {
      spawnSync('ip', ['link', 'del', host], { stdio: 'ignore' });
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    });
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    link();
    const secret = 'vanish-secret';
    const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), {
      PROXY_HOST: '0.0.0.0',
      CLUSTER_SECRET: secret,
    });
    const a = new Proc(
      spawn(
        'ip',
        [
          'netns',
          'exec',
          ns,
          process.execPath,
          new URL('../dist/node/main.js', import.meta.url).pathname,
        ],
        {
          env: {
            PATH: process.env.PATH ?? '',
            LOG_LEVEL: 'info',
            DURABILITY: 'relaxed',
            NODE_ID: 'a',
            CLUSTER_SECRET: secret,
            CLIENT_HOST: '0.0.0.0',
            CLIENT_PORT: '0',
            PROXY_URL: `ws://${net}.1:${proxy.port}/cluster`,
            DATA_DIR: tempDir(t.teardown),
            SLOTS: '2',
            INFO_PERIOD: '50',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    );
    t.teardown(() => a.child.kill('SIGKILL'));
    await a.waitFor('joined the proxy');
    // b's jobs go through the proxy, which gives some to a
    const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
      NODE_ID: 'b',
      SLOTS: '6',
      CLUSTER_SECRET: secret,
      LOCAL_START: '0',
    });
    const api = async () =>
      (await (await fetch(`http://127.0.0.1:${proxy.port}/api/cluster`)).json()) as {
        nodes: Array<{ id: string; connected: boolean; outstanding: number }>;
        totals: Record<string, number>;
      };
    const c = await LineClient.connect(b.port, t.teardown);
    const tickets: string[] = [];
    for (let i = 0; i < 6; i++) tickets.push((await c.ask('SUBMIT sleep 1500')).slice(3));
    await until(async () => (await api()).nodes.find((n) => n.id === 'a')!.outstanding > 0);
    const goneAt = Date.now();
    ip('link', 'del', host); // both ends vanish: nothing is ever sent to say so
    await until(
      async () => (await api()).nodes.find((n) => n.id === 'b')!.outstanding === 6,
      20_000,
      'a’s jobs on b',
    );
    t.comment(`vanished host: its jobs on b ${Date.now() - goneAt} ms after the link was deleted`);
    const joins = () => a.output.filter((l) => l.includes('joined the proxy')).length;
    const before = joins();
    link();
    await until(() => joins() > before, 30_000, 'a to rejoin once its link is back');
    let done = 0;
    for (const tk of tickets)
      if ((await c.ask(`WAIT ${tk} 30000`)).includes('"state":"done"')) done++;
    t.equal(done, 6, 'every job finished');
    const s = await api();
    t.equal(s.totals.submitted, 6, 'each job recorded once');
    t.equal(s.totals.done, 6, 'each result recorded once');
    t.comment(`vanished host: duplicate runs counted ${s.totals.duplicates}`);
  },
);
