import { join } from 'node:path';
import t from 'tap';
import { freePort, LineClient, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';

interface View {
  ticket: string;
  state: string;
  node?: string;
  waiting?: string;
  progress?: { total: number; done: number; failed: number; running: number };
  tasks?: Array<{ index: number; state: string; node?: string; output?: string }>;
}

const parse = (line: string): View => {
  if (!line.startsWith('OK ')) throw new Error(line);
  return JSON.parse(line.slice(3)) as View;
};

async function submit(c: LineClient, spec: unknown): Promise<string> {
  const reply = await c.ask(`SUBMIT ${JSON.stringify(spec)}`);
  if (!/^OK [0-9A-Z]{26}$/.test(reply)) throw new Error(reply);
  return reply.slice(3);
}

const view = async (c: LineClient, ticket: string) => parse(await c.ask(`RESULT ${ticket}`));

async function totals(port: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/api/cluster`);
  return ((await res.json()) as { totals: Record<string, number> }).totals;
}

t.test('constraints: only on labelled nodes; waits with a reason until one joins', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const plain = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'plain',
    NODE_LABELS: 'zone=eu',
  });
  const c = await LineClient.connect(plain.port, t.teardown);
  const gpu = { type: 'echo', args: ['on gpu'], constraints: { labels: ['gpu'] } };
  const first = await submit(c, gpu);
  const waiting = await until(async () => {
    const v = await view(c, first);
    return v.waiting ? v : null;
  });
  t.equal(waiting.state, 'queued');
  t.equal(waiting.waiting, 'no node has labels gpu');
  t.equal(
    parse(await c.ask(`WAIT ${await submit(c, { type: 'echo', args: ['x'] })} 10000`)).node,
    'plain',
    'unconstrained work is not held up behind it',
  );
  await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'gpu-1',
    NODE_LABELS: 'gpu,zone=us',
  });
  const done = parse(await c.ask(`WAIT ${first} 10000`));
  t.equal(done.state, 'done');
  t.equal(done.node, 'gpu-1');
  t.notOk(done.waiting);
  const more = [];
  for (let i = 0; i < 6; i++) more.push(await submit(c, gpu));
  for (const tk of more) t.equal(parse(await c.ask(`WAIT ${tk} 10000`)).node, 'gpu-1');
});

t.test('resources: cpus and memory are summed per node; too big waits with a reason', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), { PREFETCH: '0' });
  const n = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    SLOTS: '8',
    NODE_CPUS: '4',
    NODE_MEM_MB: '1000',
  });
  const c = await LineClient.connect(n.port, t.teardown);
  const cpu: string[] = [];
  for (let i = 0; i < 5; i++) {
    cpu.push(await submit(c, { type: 'sleep', args: [60_000], resources: { cpu: 1 } }));
  }
  const states = async (tickets: string[]) =>
    Promise.all(tickets.map(async (tk) => (await c.ask(`STATUS ${tk}`)).slice(3)));
  await until(async () => (await states(cpu)).filter((s) => s === 'running').length === 4);
  t.same((await states(cpu)).sort(), ['queued', 'running', 'running', 'running', 'running']);
  const fifth = cpu[(await states(cpu)).indexOf('queued')] as string;
  t.notOk((await view(c, fifth)).waiting, 'it fits the node: it only waits for room');
  const big = await submit(c, { type: 'echo', resources: { cpu: 8 } });
  const why = async (tk: string) => until(async () => (await view(c, tk)).waiting);
  t.equal(await why(big), 'no node has 8 cpu');
  t.equal(await c.ask(`CANCEL ${cpu[0]}`), 'OK cancelled');
  await until(async () => (await c.ask(`STATUS ${fifth}`)) === 'OK running', 10_000, 'the fifth');
  for (const tk of [...cpu, big]) await c.ask(`CANCEL ${tk}`);

  const mem: string[] = [];
  for (let i = 0; i < 3; i++) {
    mem.push(await submit(c, { type: 'sleep', args: [60_000], resources: { memMb: 400 } }));
  }
  await until(async () => (await states(mem)).filter((s) => s === 'running').length === 2);
  t.same((await states(mem)).sort(), ['queued', 'running', 'running'], '400 + 400 of 1000 MB');
  const fat = await submit(c, { type: 'echo', resources: { memMb: 2000 } });
  t.equal(await why(fat), 'no node has 2000 MB of memory');
  t.equal(
    parse(await c.ask(`WAIT ${await submit(c, { type: 'echo', args: ['small'] })} 10000`)).state,
    'done',
    'a job without needs still runs beside them',
  );
  for (const tk of [...mem, fat]) await c.ask(`CANCEL ${tk}`);
});

t.test('fair share: a late tenant starts within a few of the flood’s completions', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), { PREFETCH: '0' });
  const httpPort = await freePort();
  const n = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    SLOTS: '4',
    HTTP_PORT: String(httpPort),
  });
  const c = await LineClient.connect(n.port, t.teardown);
  // tenant a floods 20,000 sleeps (two jobs of 10,000 tasks)
  const flood: string[] = [];
  for (let i = 0; i < 2; i++) {
    const tasks = Array.from({ length: 10_000 }, () => ({ type: 'sleep', args: [100] }));
    const res = await fetch(`http://127.0.0.1:${httpPort}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tasks, tenant: 'a' }),
    });
    flood.push(((await res.json()) as { ticket: string }).ticket);
  }
  const doneA = async () => {
    let sum = 0;
    for (const tk of flood) sum += (await view(c, tk)).progress?.done ?? 0;
    return sum;
  };
  await until(async () => (await doneA()) >= 8, 20_000, 'the flood running');
  const b: string[] = [];
  for (let i = 0; i < 100; i++)
    b.push(await submit(c, { type: 'sleep', args: [100], tenant: 'b' }));
  const atSubmit = await doneA();
  await until(async () => (await c.ask(`STATUS ${b[0]}`)) !== 'OK queued', 20_000, 'b starts');
  const atFirst = await doneA();
  t.ok(atFirst - atSubmit <= 40, `b started after ${atFirst - atSubmit} of a’s completions`);
  for (const tk of b) t.equal(parse(await c.ask(`WAIT ${tk} 60000`)).state, 'done');
  const atLast = await doneA();
  t.ok(
    atLast - atSubmit < 400,
    `all of b's 100 ran while a completed ${atLast - atSubmit} (not its backlog of ~20,000)`,
  );
  for (const tk of flood) await c.ask(`CANCEL ${tk}`);
});

t.test('fair share: TENANT_WEIGHTS a=3,b=1 splits the slots 3:1', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), {
    PREFETCH: '0',
    TENANT_WEIGHTS: 'a=3,b=1',
  });
  const entry = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown));
  const c = await LineClient.connect(entry.port, t.teardown);
  // both backlogs are queued before any node can run them
  const job = (tenant: string) => ({
    tasks: Array.from({ length: 100 }, () => ({ type: 'sleep', args: [100] })),
    constraints: { labels: ['w'] },
    tenant,
  });
  const a = await submit(c, job('a'));
  const b = await submit(c, job('b'));
  await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_LABELS: 'w',
    SLOTS: '8',
  });
  const started = (v: View) => (v.progress ? v.progress.done + v.progress.running : 0);
  const [va, vb] = await until(async () => {
    const pair = [await view(c, a), await view(c, b)] as const;
    return started(pair[0]) + started(pair[1]) >= 60 ? pair : null;
  }, 60_000);
  const share = started(va) / (started(va) + started(vb));
  t.ok(Math.abs(share - 0.75) <= 0.075, `a started ${started(va)}, b ${started(vb)}: ${share}`);
  t.ok(started(vb) < 100 && started(va) < 100, 'both were still backlogged');
  await c.ask(`CANCEL ${a}`);
  await c.ask(`CANCEL ${b}`);
});

t.test(
  'speculation: a straggler gets a copy, the first result wins, the copy is counted',
  async (t) => {
    const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
    const env = { SLOTS: '2', EXEC_ALLOW: 'sh' };
    const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
      ...env,
      NODE_ID: 'a',
    });
    await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { ...env, NODE_ID: 'b' });
    const c = await LineClient.connect(a.port, t.teardown);
    const lock = join(tempDir(t.teardown), 'first-run');
    // its first run is the straggler (as on a slow node); any later run is as quick as the rest
    const script = `if mkdir ${lock} 2>/dev/null; then sleep 30; echo slow; else sleep 0.2; echo fast; fi`;
    const tasks = [
      ...Array.from({ length: 3 }, () => ({
        type: 'exec',
        args: ['sh', '-c', 'sleep 0.2; echo fast'],
      })),
      { type: 'exec', args: ['sh', '-c', script] },
    ];
    const ticket = await submit(c, { tasks, speculate: true });
    const v = parse(await c.ask(`WAIT ${ticket} 25000`, 30_000));
    t.equal(v.state, 'done', 'done long before the straggler could have finished');
    t.same(
      v.tasks?.map((x) => x.output),
      ['fast\n', 'fast\n', 'fast\n', 'fast\n'],
      'the copy’s result won',
    );
    t.equal((await totals(proxy.port)).speculated, 1, 'one copy, counted');
    const metrics = await (await fetch(`http://127.0.0.1:${proxy.port}/metrics`)).text();
    t.match(metrics, /petrel_proxy_jobs_total\{outcome="speculated"\} 1/);
    // the straggler was cancelled at once: every slot is free again, long before its 30 s
    await until(
      async () => {
        const res = await fetch(`http://127.0.0.1:${proxy.port}/api/cluster`);
        const s = (await res.json()) as { nodes: Array<{ running: number; outstanding: number }> };
        return s.nodes.every((x) => x.running === 0 && x.outstanding === 0);
      },
      10_000,
      'the straggler stopped',
    );
  },
);
