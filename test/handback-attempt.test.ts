import t from 'tap';
import { LineClient, startNode, startProxy, tempDir, until } from './helpers/cluster.js';

/**
 * A job a node held but never started, handed back when that node stops, is no attempt: its
 * next run is still its first, also after a proxy restart in between.
 */

t.test('a job handed back unstarted keeps its attempt number', async (t) => {
  const proxyDir = tempDir(t.teardown);
  const proxy = await startProxy(t.teardown, {}, proxyDir);
  const slow = { SLOTS: '1', LOCAL_START: '0', PREFETCH: '1' };
  const n1 = await startNode(t.teardown, proxy.port, { NODE_ID: 'n1', ...slow });
  const c1 = await LineClient.connect(n1.clientPort, t.teardown);
  const running = (await c1.ask('SUBMIT sleep 1000')).slice(3);
  const held = (await c1.ask('SUBMIT echo held')).slice(3);
  await until(
    () => proxy.scheduler.view(running)?.state === 'running' && proxy.scheduler.view(held)?.node,
    10_000,
    'one job to run on n1 and the other to wait there',
  );
  t.equal(proxy.scheduler.view(held)?.node, 'n1', 'held by n1, not started');
  t.equal(proxy.scheduler.view(held)?.attempts, 1, 'its placement numbered');

  await n1.close(); // a graceful stop hands back what has not started
  await until(() => proxy.scheduler.view(held)?.state === 'queued', 10_000, 'the handback');
  t.equal(proxy.scheduler.view(held)?.attempts, 0, 'no attempt made');
  t.match(proxy.scheduler.view(running), { state: 'done', node: 'n1', attempts: 1 });

  // the number is on disk too: a restarted proxy places the job as its first attempt
  const port = proxy.port;
  await proxy.close();
  const again = await startProxy(t.teardown, { PROXY_PORT: String(port) }, proxyDir);
  const n2 = await startNode(t.teardown, again.port, { NODE_ID: 'n2' });
  const c2 = await LineClient.connect(n2.clientPort, t.teardown);
  const r = await c2.ask(`WAIT ${held} 15000`, 20_000);
  const v = JSON.parse(r.slice(3)) as { state: string; attempts: number; runs: unknown[] };
  t.match(v, { state: 'done', node: 'n2', attempts: 1 }, `${r}`);
  t.same(
    (v.runs as Array<{ node: string; attempt: number }>).map((x) => [x.node, x.attempt]),
    [['n2', 1]],
    'one run, numbered 1',
  );
});
