import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePort,
  LineClient,
  spawnNode,
  spawnProxy,
  startCluster,
  tempDir,
  until,
} from './helpers/cluster.js';

interface TaskView {
  index: number;
  state: string;
  node?: string;
  output?: string;
  exitCode?: number;
}
interface View {
  ticket: string;
  state: string;
  error?: string;
  progress?: { total: number; done: number; failed: number; running: number };
  tasks?: TaskView[];
}

const parse = (line: string): View => {
  if (!line.startsWith('OK ')) throw new Error(line);
  return JSON.parse(line.slice(3)) as View;
};

async function totals(port: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/api/cluster`);
  return ((await res.json()) as { totals: Record<string, number> }).totals;
}

async function nodes(port: number): Promise<Array<{ id: string; outstanding: number }>> {
  const res = await fetch(`http://127.0.0.1:${port}/api/cluster`);
  return ((await res.json()) as { nodes: Array<{ id: string; outstanding: number }> }).nodes;
}

t.test('a job of many tasks: one ticket, spread, running until the last, one WAIT', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const ports: number[] = [];
  for (const id of ['a', 'b', 'c']) {
    ports.push(
      (
        await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
          NODE_ID: id,
          EXEC_ALLOW: 'sh',
        })
      ).port,
    );
  }
  const c = await LineClient.connect(ports[0] as number, t.teardown);
  // the last task runs until the test opens its gate: still running however loaded the CI is
  const gate = join(tempDir(t.teardown), 'go');
  const held = `while [ ! -e ${gate} ]; do sleep 0.02; done`;
  const tasks = [
    ...Array.from({ length: 5 }, (_, i) => ({ type: 'echo', args: [`hello ${i}`] })),
    { type: 'exec', args: ['sh', '-c', held] },
  ];
  const reply = await c.ask(`SUBMIT ${JSON.stringify({ tasks })}`);
  t.match(reply, /^OK [0-9A-Z]{26}$/, 'one ticket');
  const ticket = reply.slice(3);
  // the sleeping task keeps the job running while the echoes are done
  const mid = await until(async () => {
    const v = parse(await c.ask(`RESULT ${ticket}`));
    return v.progress && v.progress.done === 5 && v.state === 'running' ? v : null;
  });
  t.equal(await c.ask(`STATUS ${ticket}`), 'OK running', 'running until the last task ends');
  t.equal(mid.progress?.total, 6);
  writeFileSync(gate, '');
  const done = parse(await c.ask(`WAIT ${ticket} 20000`));
  t.equal(done.state, 'done');
  t.same(done.progress, { total: 6, done: 6, failed: 0, running: 0 });
  t.same(
    done.tasks?.slice(0, 5).map((x) => x.output),
    ['hello 0', 'hello 1', 'hello 2', 'hello 3', 'hello 4'],
  );
  t.ok(new Set(done.tasks?.map((x) => x.node)).size >= 2, 'tasks ran on more than one node');
  // any node answers for it, with the same tasks
  const other = await LineClient.connect(ports[2] as number, t.teardown);
  t.same(parse(await other.ask(`RESULT ${ticket}`)).tasks, done.tasks);
});

t.test('a failing task fails the job; the others still finish', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const node = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    EXEC_ALLOW: 'false',
  });
  const c = await LineClient.connect(node.port, t.teardown);
  const spec = {
    tasks: [
      { type: 'echo', args: ['ok'] },
      { type: 'exec', args: ['false'] },
    ],
  };
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify(spec)}`)).slice(3);
  const v = parse(await c.ask(`WAIT ${ticket} 20000`));
  t.equal(v.state, 'failed');
  t.equal(v.error, '1 of 2 tasks failed');
  t.same(
    v.tasks?.map((x) => [x.state, x.exitCode]),
    [
      ['done', 0],
      ['failed', 1],
    ],
  );
});

t.test('CANCEL stops every task still queued or running', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'a' });
  await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'b' });
  const c = await LineClient.connect(a.port, t.teardown);
  const tasks = Array.from({ length: 10 }, () => ({ type: 'sleep', args: [60_000] }));
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify({ tasks })}`)).slice(3);
  await until(async () => parse(await c.ask(`RESULT ${ticket}`)).progress?.running === 4);
  t.equal(await c.ask(`CANCEL ${ticket}`), 'OK cancelled');
  const v = parse(await c.ask(`WAIT ${ticket} 5000`));
  t.equal(v.state, 'cancelled');
  t.ok(
    v.tasks?.every((x) => x.state === 'cancelled'),
    'every task cancelled',
  );
  await until(
    async () => (await nodes(proxy.port)).every((n) => n.outstanding === 0),
    10_000,
    'nodes free again',
  );
  // the nodes are free: new work runs at once
  const next = (await c.ask('SUBMIT echo after')).slice(3);
  t.equal(parse(await c.ask(`WAIT ${next} 5000`)).state, 'done');
});

t.test('a node crash re-runs only the tasks that node held', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'a',
    SLOTS: '3',
  });
  const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'b',
    SLOTS: '3',
  });
  const c = await LineClient.connect(b.port, t.teardown);
  const tasks = Array.from({ length: 6 }, () => ({ type: 'sleep', args: [1500] }));
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify({ tasks })}`)).slice(3);
  const before = await until(async () => {
    const v = parse(await c.ask(`RESULT ${ticket}`));
    return v.progress?.running === 6 ? v : null;
  });
  const onA = before.tasks?.filter((x) => x.node === 'a').length ?? 0;
  t.ok(onA > 0 && onA < 6, 'the tasks are spread over both nodes');
  const requeuedBefore = (await totals(proxy.port)).requeued ?? 0;
  await a.proc.kill('SIGKILL');
  const v = parse(await c.ask(`WAIT ${ticket} 30000`));
  t.equal(v.state, 'done');
  t.ok(
    v.tasks?.every((x) => x.node === 'b'),
    'a’s tasks ran again on b',
  );
  const requeued = (await totals(proxy.port)).requeued ?? 0;
  t.equal(requeued - requeuedBefore, onA, 'only a’s tasks re-ran');
});

t.test('10,000 echo tasks in one job complete, and the reply stays under 1 MiB', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const httpPort = await freePort();
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    HTTP_PORT: String(httpPort),
    SLOTS: '8',
  });
  await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { SLOTS: '8' });
  const tasks = Array.from({ length: 10_000 }, (_, i) => ({
    type: 'echo',
    args: [`task ${i} `.repeat(20)],
  }));
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tasks }),
  });
  t.equal(res.status, 201);
  const { ticket } = (await res.json()) as { ticket: string };
  const c = await LineClient.connect(a.port, t.teardown);
  const line = await c.ask(`WAIT ${ticket} 120000`, 130_000);
  t.ok(Buffer.byteLength(line) < 1024 * 1024, `the reply is ${Buffer.byteLength(line)} bytes`);
  const v = parse(line);
  t.equal(v.state, 'done');
  t.same(v.progress, { total: 10_000, done: 10_000, failed: 0, running: 0 });
  t.equal(v.tasks?.length, 10_000);
  const last = v.tasks?.[9999]?.output ?? '';
  t.match(last, /^tas.*…\d+ dropped….*99 $/, 'outputs keep their head and tail');
});

t.test('the proxy killed mid-job: every task runs, each result is recorded once', async (t) => {
  const port = await freePort();
  const proxyDir = tempDir(t.teardown);
  const proxy = await spawnProxy(t.teardown, proxyDir, {}, port);
  const a = await spawnNode(t.teardown, port, tempDir(t.teardown), { NODE_ID: 'a' });
  await spawnNode(t.teardown, port, tempDir(t.teardown), { NODE_ID: 'b' });
  const c = await LineClient.connect(a.port, t.teardown);
  const tasks = Array.from({ length: 12 }, (_, i) => ({ type: 'sleep', args: [300 + 50 * i] }));
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify({ tasks })}`)).slice(3);
  await until(async () => (parse(await c.ask(`RESULT ${ticket}`)).progress?.done ?? 0) >= 2);
  await proxy.proc.kill('SIGKILL');
  const again = await spawnProxy(t.teardown, proxyDir, {}, port);
  const v = parse(await c.ask(`WAIT ${ticket} 30000`));
  t.equal(v.state, 'done');
  t.same(v.progress, { total: 12, done: 12, failed: 0, running: 0 });
  const after = await totals(again.port);
  t.equal(after.tasks, 12, 'each task recorded once');
  t.equal(after.duplicates, 0, 'no result counted twice');
  t.equal(after.submitted, 1, 'one job');
});

t.test('in one process: a job of tasks, its view, a cancel and a speculative copy', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2, {
    nodeEnv: { SLOTS: '2', EXEC_ALLOW: 'sh', INFO_PERIOD: '50' },
  });
  const c = await LineClient.connect(nodes[0]?.clientPort ?? 0, t.teardown);
  const lock = join(tempDir(t.teardown), 'first');
  const slow = `if mkdir ${lock} 2>/dev/null; then sleep 30; else echo copy; fi`;
  const tasks = [
    ...Array.from({ length: 3 }, () => ({ type: 'echo', args: ['quick'] })),
    { type: 'exec', args: ['sh', '-c', slow] },
  ];
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify({ tasks, speculate: true })}`)).slice(3);
  const v = parse(await c.ask(`WAIT ${ticket} 20000`, 25_000));
  t.equal(v.state, 'done');
  t.equal(v.tasks?.[3]?.output, 'copy\n', 'the copy won');
  t.equal(proxy.scheduler.counters.speculated, 1);
  const long = Array.from({ length: 6 }, () => ({ type: 'sleep', args: [60_000] }));
  const other = (await c.ask(`SUBMIT ${JSON.stringify({ tasks: long, tenant: 'x' })}`)).slice(3);
  await until(async () => parse(await c.ask(`RESULT ${other}`)).progress?.running === 4);
  const view = proxy.scheduler.view(other);
  t.equal(view?.state, 'running');
  t.same(view?.progress, { total: 6, done: 0, failed: 0, running: 4 });
  t.equal(await c.ask(`CANCEL ${other}`), 'OK cancelled');
  await until(() => proxy.scheduler.connectedNodes().every((n) => n.outstanding === 0));
  t.equal(proxy.scheduler.view(other)?.state, 'cancelled');
});
