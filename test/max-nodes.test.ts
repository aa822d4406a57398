import t from 'tap';
import { startProxy, until } from './helpers/cluster.js';
import { RawNode } from './helpers/fuzz.js';

// MAX_NUM_NODES counts the nodes joined now: a node that leaves frees its place, and a node
// already joined may come back on a new connection once its old one closed.

t.test('MAX_NUM_NODES refuses one node too many, and counts a node that left out', async (t) => {
  const proxy = await startProxy(t.teardown, { MAX_NUM_NODES: '2' });
  const url = `ws://127.0.0.1:${proxy.port}/cluster`;
  const join = async (id: string): Promise<RawNode> => {
    const r = await RawNode.connect(url);
    t.teardown(() => r.terminate());
    await r.nonce();
    r.hello(id);
    return r;
  };
  const a = await join('a');
  await a.frame('WELCOME');
  const b = await join('b');
  await b.frame('WELCOME');
  t.equal(proxy.scheduler.connectedCount, 2);

  const c = await join('c');
  const refused = await c.closedWith();
  t.equal(refused.code, 4029);
  t.match(refused.reason, /MAX_NUM_NODES \(2\) reached/);
  t.equal(proxy.scheduler.connectedCount, 2, 'the refused node was never counted');

  // while b's connection is alive, another with its id is a second process: refused
  const twin = await join('b');
  t.equal((await twin.closedWith()).code, 4009, 'a NODE_ID in use by a live node is refused');
  b.terminate();
  await until(() => proxy.scheduler.connectedCount === 1, 10_000, 'b to be counted out');
  const again = await join('b');
  await again.frame('WELCOME');
  t.equal(proxy.scheduler.connectedCount, 2, 'a node back on a new connection counts once');

  a.terminate();
  await until(() => proxy.scheduler.connectedCount === 1, 10_000, 'a to be counted out');
  const d = await join('d');
  await d.frame('WELCOME');
  t.equal(proxy.scheduler.connectedCount, 2);
  t.equal(proxy.scheduler.connectedNodes().length, 2, 'the count agrees with the nodes');
});
