import t from 'tap';
import { LineClient, startCluster, until } from './helpers/cluster.js';

interface View {
  state: string;
  node?: string;
  output?: string;
  error?: string;
  runs?: Array<{ node: string; attempt: number; error?: string; startedAt?: string }>;
}

async function view(c: LineClient, line: string, ms?: number): Promise<View> {
  const r = await c.ask(line, ms);
  if (!r.startsWith('OK ')) throw new Error(`${line} answered ${r}`);
  return JSON.parse(r.slice(3)) as View;
}

async function submit(c: LineClient, line: string): Promise<string> {
  const r = await c.ask(line);
  if (!/^OK [0-9A-Z]{26}$/.test(r)) throw new Error(`${line} answered ${r}`);
  return r.slice(3);
}

t.test('a running job cancelled on another node keeps the output it printed', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2, { nodeEnv: { EXEC_ALLOW: 'sh' } });
  const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  const c1 = await LineClient.connect(n1.clientPort, t.teardown);
  const c2 = await LineClient.connect(n2.clientPort, t.teardown);
  // n1's two slots are busy, so the job submitted there runs on n2
  const sleepers = [await submit(c1, 'SUBMIT sleep 60000'), await submit(c1, 'SUBMIT sleep 60000')];
  for (const s of sleepers) {
    await until(async () => (await view(c1, `RESULT ${s}`)).state === 'running', 10_000, 'sleep');
  }
  const ticket = await submit(c1, 'SUBMIT exec sh -c "echo a; sleep 30; echo b"');
  await until(
    async () => (await c1.ask(`LOGS ${ticket}`)) === 'OK 1' && (await c1.next()) === 'a',
    10_000,
    'the job to print its first line',
  );
  t.equal((await view(c1, `RESULT ${ticket}`)).node, 'n2', 'it runs on the other node');

  t.equal(await c1.ask(`CANCEL ${ticket}`), 'OK cancelled');
  const waited = await view(c1, `WAIT ${ticket} 10000`, 15_000);
  t.equal(waited.state, 'cancelled');
  t.equal(waited.output, 'a\n', 'the origin has what it printed before the cancel');
  t.equal(waited.error, 'cancelled by a client');
  t.same(
    waited.runs?.map((r) => [r.node, r.attempt, r.error]),
    [['n2', 1, 'cancelled by a client']],
    'the stopped run is listed',
  );
  t.ok(waited.runs?.[0]?.startedAt, 'with its start');
  const elsewhere = await view(c2, `RESULT ${ticket}`);
  t.equal(elsewhere.output, 'a\n', 'every node gives the same result');
  // a run stopped at its origin says the same as one stopped elsewhere
  for (const s of sleepers) {
    t.equal(await c1.ask(`CANCEL ${s}`), 'OK cancelled');
    const ended = await view(c2, `WAIT ${s} 10000`, 15_000);
    t.same(
      [ended.state, ended.node, ended.error],
      ['cancelled', 'n1', 'cancelled by a client'],
      'a run at its origin, cancelled',
    );
  }
});

t.test('a job cancelled before it ran says why as one that was running does', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { SLOTS: '1', PREFETCH: '1' } });
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const busy = await submit(c, 'SUBMIT sleep 60000');
  const waiting = [await submit(c, 'SUBMIT sleep 10'), await submit(c, 'SUBMIT sleep 10')];
  await until(async () => (await view(c, `RESULT ${busy}`)).state === 'running', 10_000, 'sleep');
  for (const id of [...waiting, busy]) {
    t.equal(await c.ask(`CANCEL ${id}`), 'OK cancelled');
    const ended = await view(c, `WAIT ${id} 10000`, 15_000);
    t.same([ended.state, ended.error], ['cancelled', 'cancelled by a client'], id);
  }
});
