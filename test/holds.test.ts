import t from 'tap';
import {
  freePort,
  LineClient,
  spawnProxy,
  startCluster,
  startNode,
  tempDir,
  until,
} from './helpers/cluster.js';
import { jobView, submitSpec } from './helpers/line-jobs.js';

interface View {
  ticket: string;
  state: string;
  error?: string;
  runAt?: string;
  startedAt?: string;
  finishedAt?: string;
  after?: string[];
}

const submit = submitSpec;
const view = (c: LineClient, verb: 'RESULT' | 'WAIT', ticket: string) =>
  jobView<View>(c, verb, ticket);

const late = (v: View) => Date.parse(v.startedAt!) - Date.parse(v.runAt!);

t.test('delayMs and runAt hold a job scheduled until its time', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const delayed = await submit(c, { type: 'echo', args: ['later'], delayMs: 400 });
  const at = new Date(Date.now() + 300).toISOString();
  const timed = await submit(c, { type: 'echo', args: ['at'], runAt: at });
  t.equal(await c.ask(`STATUS ${delayed}`), 'OK scheduled');
  c.write('LIST scheduled\n');
  t.equal(await c.next(), 'OK 2', 'LIST scheduled shows both');
  t.same(
    new Set([await c.next(), await c.next()]),
    new Set([`${delayed} scheduled`, `${timed} scheduled`]),
  );
  const o = await LineClient.connect(nodes[1]!.clientPort, t.teardown);
  t.equal(await o.ask(`STATUS ${timed}`), 'OK scheduled', 'another node says so too');
  const a = await view(c, 'WAIT', delayed);
  const b = await view(c, 'WAIT', timed);
  t.equal(a.state, 'done');
  t.equal(b.runAt, at, 'runAt as asked');
  t.comment(`started after its time by ${late(a)} ms (delayMs) and ${late(b)} ms (runAt)`);
  t.ok(late(a) >= 0 && late(b) >= 0, 'never before its time');
  t.match(await c.ask('SUBMIT {"type":"echo","delayMs":5,"runAt":1}'), /^ERR BAD_REQUEST/);
});

t.test('a delay holds across a proxy restart', async (t) => {
  const dir = tempDir(t.teardown);
  const port = await freePort();
  const proxy = await spawnProxy(t.teardown, dir, {}, port);
  const node = await startNode(t.teardown, port, { NODE_ID: 'd1' });
  const c = await LineClient.connect(node.clientPort, t.teardown);
  const ticket = await submit(c, { type: 'echo', args: ['x'], delayMs: 6000 });
  await until(async () => (await c.ask(`STATUS ${ticket}`)) === 'OK scheduled');
  // the proxy has it once the origin marked it forwarded: RESULT then comes from the proxy
  await until(async () => (await view(c, 'RESULT', ticket)).runAt !== undefined);
  await new Promise((r) => setTimeout(r, 300)); // let the proxy's group commit reach the file
  await proxy.proc.kill('SIGKILL');
  await spawnProxy(t.teardown, dir, {}, port); // the same file, the same port
  const v = await view(c, 'WAIT', ticket);
  t.equal(v.state, 'done');
  t.comment(`after a proxy restart, started ${late(v)} ms after its time`);
  t.ok(late(v) >= 0, 'not before its time');
});

t.test(
  'idempotency keys: 50 concurrent SUBMITs over three nodes, one ticket, one run',
  async (t) => {
    const { proxy, nodes } = await startCluster(t.teardown, 3);
    const clients = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        LineClient.connect(nodes[i % 3]!.clientPort, t.teardown),
      ),
    );
    const spec = { type: 'echo', args: ['once'], key: 'order-17' };
    const tickets = await Promise.all(clients.map((c) => submit(c, spec)));
    t.equal(new Set(tickets).size, 1, 'one ticket');
    const v = await view(clients[7]!, 'WAIT', tickets[0]!);
    t.equal(v.state, 'done');
    t.equal(proxy.scheduler.counters.submitted, 1, 'one job');
    t.equal(proxy.scheduler.counters.done, 1, 'one run');
    t.equal(await submit(clients[3]!, spec), tickets[0], 'later too');
  },
);

t.test('idempotency keys hold through a proxy restart in the middle', async (t) => {
  const dir = tempDir(t.teardown);
  const port = await freePort();
  const proxy = await spawnProxy(t.teardown, dir, {}, port);
  const nodes = await Promise.all(
    ['k1', 'k2', 'k3'].map((id) => startNode(t.teardown, port, { NODE_ID: id })),
  );
  const clients = await Promise.all(
    Array.from({ length: 50 }, (_, i) => LineClient.connect(nodes[i % 3]!.clientPort, t.teardown)),
  );
  const spec = { type: 'sleep', args: ['200'], key: 'nightly-report' };
  const first = clients.slice(0, 25).map((c) => submit(c, spec));
  await first[0];
  await proxy.proc.kill('SIGKILL');
  const second = clients.slice(25).map((c) => submit(c, spec)); // wait for the proxy
  await spawnProxy(t.teardown, dir, {}, port); // the same file, the same port
  const tickets = await Promise.all([...first, ...second]);
  t.equal(new Set(tickets).size, 1, 'one ticket for all 50');
  t.equal((await view(clients[0]!, 'WAIT', tickets[0]!)).state, 'done');
  const res = await fetch(`http://127.0.0.1:${port}/api/jobs?limit=1000`);
  const jobs = ((await res.json()) as { jobs: Array<{ key?: string }> }).jobs;
  t.equal(jobs.filter((j) => j.key === 'nightly-report').length, 1, 'one job in the cluster');
  t.equal(jobs.length, 1, 'and nothing else');
});

t.test('after: blocked until done; a failure cancels the dependents', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2, { nodeEnv: { EXEC_ALLOW: 'sh' } });
  const a = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const b = await LineClient.connect(nodes[1]!.clientPort, t.teardown);
  const first = await submit(a, { type: 'sleep', args: ['300'] });
  const second = await submit(b, { type: 'echo', args: ['then'], after: [first] });
  t.equal(await b.ask(`STATUS ${second}`), 'OK blocked');
  const v1 = await view(a, 'WAIT', first);
  const v2 = await view(b, 'WAIT', second);
  t.equal(v2.state, 'done');
  t.same(v2.after, [first]);
  t.ok(Date.parse(v2.startedAt!) >= Date.parse(v1.finishedAt!), 'ran after its dependency');

  const bad = await submit(a, { type: 'exec', args: ['sh', '-c', 'exit 1'] });
  const dep = await submit(b, { type: 'echo', args: ['never'], after: [bad] });
  const dep2 = await submit(a, { type: 'echo', args: ['never'], after: [dep, first] });
  const d1 = await view(a, 'WAIT', dep);
  const d2 = await view(b, 'WAIT', dep2);
  t.equal(d1.state, 'cancelled');
  t.equal(d1.error, `DEPENDENCY_FAILED ${bad}`);
  t.equal(d2.error, `DEPENDENCY_FAILED ${dep}`, 'the cancel cascades');
  // a dependency already failed: cancelled at once
  const late = await submit(b, { type: 'echo', args: ['x'], after: [bad] });
  t.equal((await view(b, 'WAIT', late)).error, `DEPENDENCY_FAILED ${bad}`);

  t.match(
    await a.ask(`SUBMIT {"type":"echo","after":["0000000000000000000000000Z"]}`),
    /^ERR BAD_REQUEST after: unknown ticket 0000000000000000000000000Z/,
    'a ticket must exist before it can be named (no cycles)',
  );
});

t.test('a chain of 100 jobs runs in order', async (t) => {
  const { nodes } = await startCluster(t.teardown, 3);
  const clients = await Promise.all(nodes.map((n) => LineClient.connect(n.clientPort, t.teardown)));
  const tickets: string[] = [];
  for (let i = 0; i < 100; i++) {
    const after = i === 0 ? {} : { after: [tickets[i - 1]] };
    tickets.push(await submit(clients[i % 3]!, { type: 'echo', args: [`link ${i}`], ...after }));
  }
  await view(clients[0]!, 'WAIT', tickets[99]!);
  let previous: View | undefined;
  let inOrder = 0;
  for (const tk of tickets) {
    const v = await view(clients[1]!, 'RESULT', tk);
    if (v.state === 'done' && (!previous || v.startedAt! >= previous.finishedAt!)) inOrder++;
    previous = v;
  }
  t.equal(inOrder, 100, 'each started after the previous one finished');
});

t.test(
  'a keyed or dependent SUBMIT without a proxy waits a bounded time, then UNAVAILABLE',
  async (t) => {
    const nowhere = await freePort(); // no proxy listens there
    // CLAIM_WAIT shortened from its 10 s so the test does not wait that out
    const node = await startNode(t.teardown, nowhere, { NODE_ID: 'alone', CLAIM_WAIT: '1500' });
    const c = await LineClient.connect(node.clientPort, t.teardown);
    const asked = Date.now();
    const r = await c.ask('SUBMIT {"type":"echo","args":["x"],"key":"k-1"}', 30_000);
    t.match(r, /^ERR UNAVAILABLE .*key or after/);
    const waited = Date.now() - asked;
    t.ok(waited >= 1400, `it waited CLAIM_WAIT for the proxy first (${waited} ms)`);
    t.ok(waited < 9000, 'and no longer than CLAIM_WAIT says');
    t.match(await c.ask('SUBMIT echo plain'), /^OK /, 'a plain SUBMIT is still taken');
  },
);
