import { spawn } from 'node:child_process';
import t from 'tap';
import { LineClient, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';

interface Cluster {
  nodes: Array<{ id: string; connected: boolean; outstanding: number }>;
  totals: Record<string, number>;
  detector: { suspicions: number; falseSuspicions: number };
}

async function cluster(port: number): Promise<Cluster> {
  const res = await fetch(`http://127.0.0.1:${port}/api/cluster`);
  return (await res.json()) as Cluster;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

t.test('a hung node is declared dead from its heartbeats, long before NODE_TIMEOUT', async (t) => {
  // NODE_TIMEOUT is 30 s: anything faster is the heartbeat history's verdict
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), { NODE_TIMEOUT: '30000' });
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'a' });
  // b's jobs go through the proxy, which gives some to a
  const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'b',
    SLOTS: '4',
    LOCAL_START: '0',
  });
  const c = await LineClient.connect(b.port, t.teardown);
  const tickets: string[] = [];
  for (let i = 0; i < 4; i++) tickets.push((await c.ask('SUBMIT sleep 1000')).slice(3));
  await until(
    async () => (await cluster(proxy.port)).nodes.find((n) => n.id === 'a')!.outstanding > 0,
    10_000,
    'a to hold jobs',
  );
  const stoppedAt = Date.now();
  a.proc.child.kill('SIGSTOP');
  t.teardown(() => a.proc.child.kill('SIGCONT'));
  await until(
    async () => (await cluster(proxy.port)).nodes.find((n) => n.id === 'b')!.outstanding === 4,
    20_000,
    'a’s jobs back on b well before NODE_TIMEOUT',
  );
  t.comment(`hang: a's jobs on b ${Date.now() - stoppedAt} ms after SIGSTOP (NODE_TIMEOUT 30000)`);
  t.equal(await metric(proxy.port, 'petrel_proxy_node_suspicions_total'), 1);
  // resumed before NODE_TIMEOUT passed: it was alive, and the verdict is counted as a mistake
  a.proc.child.kill('SIGCONT');
  await until(
    async () => (await cluster(proxy.port)).detector.falseSuspicions === 1,
    20_000,
    'the false suspicion to be counted',
  );
  t.equal(await metric(proxy.port, 'petrel_proxy_node_false_suspicions_total'), 1);
  await until(
    async () => (await cluster(proxy.port)).nodes.find((n) => n.id === 'a')?.connected,
    10_000,
    'a to rejoin',
  );
  for (const tk of tickets) t.match(await c.ask(`WAIT ${tk} 20000`), /"state":"done"/);
  const s = await cluster(proxy.port);
  t.equal(s.totals.done, 4, 'each result counted once');
});

t.test('a node hung past NODE_TIMEOUT is a true suspicion', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), { NODE_TIMEOUT: '300' });
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'a' });
  a.proc.child.kill('SIGSTOP');
  t.teardown(() => a.proc.child.kill('SIGCONT'));
  await until(async () => (await cluster(proxy.port)).detector.suspicions === 1, 10_000, 'verdict');
  // cut off once NODE_TIMEOUT (and the one-second close grace) passed without an answer
  await until(
    async () => !(await cluster(proxy.port)).nodes.find((n) => n.id === 'a')?.connected,
    10_000,
    'a disconnected',
  );
  const joins = () => a.proc.output.filter((l) => l.includes('joined the proxy')).length;
  const before = joins();
  await proxy.proc.waitFor('declared dead was cut off');
  a.proc.child.kill('SIGCONT');
  await until(() => joins() > before, 10_000, 'a to rejoin');
  t.equal((await cluster(proxy.port)).detector.falseSuspicions, 0, 'not counted as a mistake');
});

t.test('a node slowed by a saturated CPU is not declared dead', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'a',
    INFO_PERIOD: '250',
  });
  const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'b',
    INFO_PERIOD: '250',
  });
  const burners = [];
  for (let i = 0; i < 4; i++) {
    const p = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    t.teardown(() => p.kill('SIGKILL'));
    burners.push(p);
  }
  const clients = await Promise.all([a, b].map((n) => LineClient.connect(n.port, t.teardown)));
  const tickets: Array<[LineClient, string]> = [];
  for (let i = 0; i < 200; i++) {
    const c = clients[i % 2]!;
    tickets.push([c, (await c.ask(`SUBMIT sleep ${i % 10}`)).slice(3)]);
  }
  let done = 0;
  for (const [c, tk] of tickets) {
    if ((await c.ask(`WAIT ${tk} 60000`)).includes('"state":"done"')) done++;
  }
  for (const p of burners) p.kill('SIGKILL');
  t.equal(done, tickets.length, 'every job finished');
  const s = await cluster(proxy.port);
  t.equal(s.detector.suspicions, 0, 'no node was suspected');
  t.equal(s.totals.duplicates, 0, 'nothing ran twice');
  t.equal(s.totals.done, 200);
});
