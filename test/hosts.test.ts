import t from 'tap';
import { startEtcd } from '../bench/etcd.js';
import { LineClient, tempDir, until, type Proc } from './helpers/cluster.js';
import { etcd, explainOnFailure, joined, NO_ETCD, readiness } from './helpers/group.js';
import { Hosts, netnsUnavailable } from './helpers/netns.js';

/**
 * Proxies and nodes on hosts of their own (network namespaces on one bridge, each with its own
 * address), and hosts vanishing mid-load: the leader's, then a node's, whose link comes back.
 */
const why = etcd ? netnsUnavailable() : NO_ETCD;
if (why) {
  t.comment(`skipped: ${why}`);
  t.pass(`skipped: ${why}`);
} else {
  t.test('the leader’s host and a node’s host lose their links under load', async (t) => {
    const hosts = new Hosts(t.teardown);
    const server = await startEtcd(etcd as string, hosts.gateway);
    t.teardown(() => server.stop());
    const secret = 'a-secret-for-hosts-of-their-own';
    const proxies = ['p1', 'p2', 'p3'].map((name) => ({ name, addr: hosts.add(name) }));
    const urls = proxies.map((p) => `ws://${p.addr}:8080/cluster`);
    const procs = new Map<string, Proc>();
    for (const [i, p] of proxies.entries()) {
      const proc = hosts.start(
        p.name,
        'proxy',
        {
          PROXY_PORT: '8080',
          DATA_DIR: tempDir(t.teardown),
          ETCD_ENDPOINTS: server.endpoint,
          ETCD_LEASE_TTL: '2',
          PROXY_ADVERTISE_URL: urls[i] as string,
          CLUSTER_SECRET: secret,
        },
        t.teardown,
      );
      procs.set(p.name, proc);
      await proc.waitFor('proxy listening', 60_000);
    }
    const nodes = ['n1', 'n2', 'n3'].map((name) => ({ name, addr: hosts.add(name) }));
    for (const n of nodes) {
      const proc = hosts.start(
        n.name,
        'node',
        {
          NODE_ID: n.name,
          CLIENT_PORT: '9000',
          PROXY_URL: urls.join(','),
          DATA_DIR: tempDir(t.teardown),
          CLUSTER_SECRET: secret,
          SLOTS: '2',
          LOCAL_FALLBACK: '0',
        },
        t.teardown,
      );
      procs.set(n.name, proc);
      await proc.waitFor('listening for clients', 60_000);
    }
    explainOnFailure(t, () => [...procs].map(([name, proc]) => ({ name, proc })));
    const leaderWith = async (among: typeof proxies, n: number) =>
      until(
        async () => {
          for (const p of among) {
            const r = await readiness(8080, p.addr);
            if (r?.role === 'leader' && (await joined(8080, p.addr)) === n) return p;
          }
          return undefined;
        },
        60_000,
        `a leader with ${n} nodes`,
      );
    const first = await leaderWith(proxies, 3);
    const client = (n: string) =>
      LineClient.connect(9000, t.teardown, nodes.find((x) => x.name === n)?.addr);
    const c1 = await client('n1');
    const c2 = await client('n2');
    const c3 = await client('n3');
    const tickets: Array<{ node: string; tk: string; text: string }> = [];
    const submit = async (c: LineClient, node: string, round: string) => {
      for (let i = 0; i < 4; i++) {
        const text = `${node}-${round}-${i}`;
        const r = await c.ask(`SUBMIT echo ${text}`, 30_000);
        t.match(r, /^OK [0-9A-Z]{26}$/);
        tickets.push({ node, tk: r.slice(3), text });
      }
      await c.ask('SUBMIT sleep 400', 30_000); // something running at the cut
    };
    for (const [c, n] of [
      [c1, 'n1'],
      [c2, 'n2'],
      [c3, 'n3'],
    ] as const) {
      await submit(c, n, 'before');
    }

    hosts.cut(first.name);
    t.comment(`removed the link of ${first.name}, the leader`);
    await submit(c1, 'n1', 'leaderless');
    await submit(c3, 'n3', 'leaderless');
    const others = proxies.filter((p) => p !== first);
    const second = await leaderWith(others, 3);
    t.not(second.name, first.name, 'a proxy on another host leads');
    await procs.get(first.name)?.waitFor('no longer leading the proxy group', 60_000);

    hosts.cut('n2');
    t.comment('removed the link of n2, a node');
    await submit(c1, 'n1', 'node-gone');
    await submit(c3, 'n3', 'node-gone');
    const by: Record<string, LineClient> = { n1: c1, n3: c3 };
    for (const { node, tk, text } of tickets.filter((x) => x.node !== 'n2')) {
      const c = by[node] as LineClient;
      t.match(await c.ask(`WAIT ${tk} 60000`, 65_000), new RegExp(`"state":"done".*"${text}"`));
    }

    hosts.plug('n2');
    t.comment('n2 is back');
    const back = await client('n2');
    await leaderWith(others, 3);
    for (const { tk, text } of tickets.filter((x) => x.node === 'n2')) {
      t.match(await back.ask(`WAIT ${tk} 60000`, 65_000), new RegExp(`"state":"done".*"${text}"`));
    }
    const asked = tickets.find((x) => x.node === 'n2')?.tk;
    // "try again" while the origin has not answered the new leader yet; never "no such ticket"
    const answer = await until(async () => {
      const r = await c1.ask(`RESULT ${asked}`, 30_000);
      return r.startsWith('ERR UNAVAILABLE') ? undefined : r;
    }, 60_000);
    t.match(answer, /"state":"done"/, 'another host answers for its tickets (their origin does)');
  });
}
