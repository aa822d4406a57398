import t from 'tap';
import { LineClient, spawnNode, spawnProxy, startCluster, tempDir } from './helpers/cluster.js';

async function ticketOf(c: LineClient, line: string): Promise<string> {
  const r = await c.ask(line, 20_000);
  if (!r.startsWith('OK ')) throw new Error(`${line} -> ${r}`);
  return r.slice(3);
}

t.test(
  'after: a ticket just answered is accepted at once, on its node and any other',
  async (t) => {
    // real processes: each forward crosses a socket, as in a cluster
    const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
    const n1 = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'n1' });
    const n2 = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'n2' });
    const a = await LineClient.connect(n1.port, t.teardown);
    const b = await LineClient.connect(n2.port, t.teardown);
    const refused: string[] = [];
    const dependents: string[] = [];
    for (let i = 0; i < 40; i++) {
      const first = await ticketOf(a, 'SUBMIT echo first');
      // the dependent goes out the moment the first ticket is known, as a script does
      const c = i % 2 === 0 ? b : a;
      const r = await c.ask(`SUBMIT {"type":"echo","args":["then"],"after":["${first}"]}`, 20_000);
      if (r.startsWith('OK ')) dependents.push(r.slice(3));
      else refused.push(r);
    }
    t.same(refused, [], 'no dependent refused for an unknown ticket');
    for (const d of dependents) {
      const r = await a.ask(`WAIT ${d} 20000`, 25_000);
      t.match(r, /^OK \{.*"state":"done"/, 'the dependent ran');
    }
  },
);

t.test('after: a ticket nobody issued is still refused', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const a = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  // an old-looking ticket is refused at once; a fresh-looking one after a short grace
  t.match(
    await a.ask('SUBMIT {"type":"echo","after":["0000000000000000000000000Z"]}'),
    /^ERR BAD_REQUEST after: unknown ticket 0000000000000000000000000Z/,
  );
  const real = await ticketOf(a, 'SUBMIT echo x');
  const made = real.slice(0, 10) + 'ZZZZZZZZZZZZZZZZ';
  const started = Date.now();
  t.match(
    await a.ask(`SUBMIT {"type":"echo","after":["${made}"]}`, 20_000),
    new RegExp(`^ERR BAD_REQUEST after: unknown ticket ${made}`),
  );
  t.ok(Date.now() - started < 9000, 'refused before the node gives up on the proxy');
});
