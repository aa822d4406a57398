import t from 'tap';
import { LineClient, startCluster, until } from './helpers/cluster.js';

/**
 * Adaptive prefetch in a running cluster: jobs that end at once (`echo`), placed by the proxy,
 * deepen what each node may hold beyond its slots. Such a job's result reaches the proxy before
 * any ACK (the node sends none for it), so the proxy must read the round trip from the result.
 */

async function holds(port: number): Promise<number[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return [...text.matchAll(/^petrel_proxy_node_hold_jobs\{node="[^"]+"\} (\S+)$/gm)].map((m) =>
    Number(m[1]),
  );
}

t.test('short jobs placed by the proxy deepen each node’s hold beyond PREFETCH', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2, {
    proxyEnv: { PREFETCH: '1' },
    nodeEnv: { SLOTS: '2', LOCAL_START: '0' },
  });
  t.same(await holds(proxy.port), [1, 1], 'PREFETCH until anything is measured');

  const clients = await Promise.all(nodes.map((n) => LineClient.connect(n.clientPort, t.teardown)));
  const JOBS = 400;
  for (const c of clients) c.write('SUBMIT echo x\n'.repeat(JOBS));
  for (const c of clients) {
    const tickets: string[] = [];
    for (let i = 0; i < JOBS; i++) tickets.push(((await c.next()) ?? '').replace(/^OK /, ''));
    c.write(tickets.map((id) => `WAIT ${id} 20000\n`).join(''));
    let done = 0;
    for (let i = 0; i < JOBS; i++) if ((await c.next(30_000))?.includes('"state":"done"')) done++;
    t.equal(done, JOBS, 'every job done');
  }
  const deepened = await until(
    async () => {
      const h = await holds(proxy.port);
      return h.every((x) => x > 1) ? h : undefined;
    },
    10_000,
    'every node to hold more than PREFETCH',
  );
  t.equal(deepened.length, 2, `both nodes hold more than PREFETCH beyond their slots: ${deepened}`);
});
