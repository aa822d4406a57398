import t from 'tap';
import { freePort, LineClient, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';

interface View {
  state: string;
  node?: string;
}

async function cluster(port: number): Promise<{
  nodes: Array<{ id: string; connected: boolean }>;
}> {
  const res = await fetch(`http://127.0.0.1:${port}/api/cluster`);
  return (await res.json()) as never;
}

t.test('WAIT for another node’s ticket keeps its deadline through a proxy restart', async (t) => {
  const port = await freePort();
  const proxyDir = tempDir(t.teardown);
  const proxy = await spawnProxy(t.teardown, proxyDir, {}, port);
  const a = await spawnNode(t.teardown, port, tempDir(t.teardown), { NODE_ID: 'a' });
  const b = await spawnNode(t.teardown, port, tempDir(t.teardown), { NODE_ID: 'b' });
  const ca = await LineClient.connect(a.port, t.teardown);
  const cb = await LineClient.connect(b.port, t.teardown);
  const tk = (await cb.ask('SUBMIT sleep 1500')).slice(3);
  await until(async () => (await ca.ask(`STATUS ${tk}`)) === 'OK running', 10_000, 'running');
  await proxy.proc.kill('SIGKILL');
  // asked of a while the proxy is away: a waits for the link instead of failing at once
  ca.write(`WAIT ${tk} 30000\n`);
  const cc = await LineClient.connect(a.port, t.teardown);
  const asked = Date.now();
  const result = await cc.ask(`RESULT ${tk}`);
  t.match(result, /^ERR UNAVAILABLE .*try again/, 'RESULT says to try again once its wait ran out');
  t.ok(Date.now() - asked >= 1500, 'RESULT waited for the link first');
  t.match(await cc.ask(`CANCEL ${tk}`), /^ERR UNAVAILABLE .*try again/, 'so does CANCEL');
  await spawnProxy(t.teardown, proxyDir, {}, port);
  const waited = await ca.next(30_000);
  t.match(waited, /^OK \{/, 'WAIT answered with the result');
  const v = JSON.parse((waited ?? '').slice(3)) as View;
  t.equal(v.state, 'done');
  t.equal(await cc.ask(`STATUS ${tk}`), 'OK done', 'every ticket answers after the rejoin');
});

t.test('a node back from a hang rejoins by itself and answers every ticket', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), { NODE_TIMEOUT: '400' });
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'a' });
  const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'b' });
  const ca = await LineClient.connect(a.port, t.teardown);
  const cb = await LineClient.connect(b.port, t.teardown);
  const tickets: string[] = [];
  for (let i = 0; i < 6; i++)
    tickets.push((await cb.ask(`SUBMIT sleep ${300 + i * 100}`)).slice(3));
  const joins = () => a.proc.output.filter((l) => l.includes('joined the proxy')).length;
  const before = joins();
  a.proc.child.kill('SIGSTOP');
  t.teardown(() => a.proc.child.kill('SIGCONT'));
  await until(
    async () => !(await cluster(proxy.port)).nodes.find((n) => n.id === 'a')?.connected,
    10_000,
    'a declared dead',
  );
  // the client's lines wait in a's socket while it is stopped
  for (const tk of tickets) ca.write(`WAIT ${tk} 30000\n`);
  const resumed = Date.now();
  a.proc.child.kill('SIGCONT');
  await until(() => joins() > before, 10_000, 'a to rejoin');
  t.comment(`hang: a rejoined within ${Date.now() - resumed} ms of SIGCONT`);
  for (let i = 0; i < tickets.length; i++) {
    const line = await ca.next(30_000);
    t.match(line, /^OK \{.*"state":"done"/, `WAIT ${i + 1} answered through the rejoin`);
  }
  for (const tk of tickets) t.equal(await ca.ask(`STATUS ${tk}`), 'OK done');
});
