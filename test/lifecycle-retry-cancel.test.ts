import t from 'tap';
import type { PetrelNode } from '../node/node.js';
import type { PetrelProxy } from '../proxy/proxy.js';
import { LineClient, startCluster, until } from './helpers/cluster.js';

/** The view a node gives of `ticket` (RESULT), parsed. */
async function view(c: LineClient, ticket: string): Promise<Record<string, unknown>> {
  const line = await c.ask(`RESULT ${ticket}`);
  if (!line.startsWith('OK ')) throw new Error(`RESULT ${ticket}: ${line}`);
  return JSON.parse(line.slice(3)) as Record<string, unknown>;
}

/** Submits a long sleep through `c` and waits until it runs; its ticket. */
async function running(c: LineClient, proxy: PetrelProxy): Promise<string> {
  const ticket = (await c.ask('SUBMIT sleep 30000')).replace(/^OK /, '');
  await until(() => proxy.scheduler.view(ticket)?.state === 'running', 10_000, 'the run');
  return ticket;
}

/**
 * Every process says `ticket` is cancelled (its origin, another node, the proxy), and no node
 * runs it: the job is over and will never end `done`.
 */
async function cancelledEverywhere(
  ticket: string,
  proxy: PetrelProxy,
  nodes: PetrelNode[],
  origin: LineClient,
  other: LineClient,
): Promise<void> {
  const seen = async () => ({
    proxy: proxy.scheduler.view(ticket)?.state,
    origin: (await view(origin, ticket)).state,
    other: (await view(other, ticket)).state,
    runs: nodes.map((n) => n.snapshot().running + n.snapshot().queued),
  });
  const over = (s: Awaited<ReturnType<typeof seen>>) =>
    s.proxy === 'cancelled' &&
    s.origin === 'cancelled' &&
    s.other === 'cancelled' &&
    s.runs.every((n) => n === 0);
  await until(async () => over(await seen()), 10_000, `${ticket} to be cancelled`).catch(
    async (e: Error) => {
      throw new Error(`${e.message}; seen ${JSON.stringify(await seen())}`);
    },
  );
}

/** Three nodes and a proxy that syncs its commits; clients of the first two nodes. */
async function threeNodes(teardown: (fn: () => unknown) => void, nodeEnv: Record<string, string>) {
  const { proxy, nodes } = await startCluster(teardown, 3, {
    proxyEnv: { DURABILITY: 'fsync' },
    nodeEnv,
  });
  const [n1, n2] = nodes as [PetrelNode, PetrelNode];
  const c1 = await LineClient.connect(n1.clientPort, teardown);
  const c2 = await LineClient.connect(n2.clientPort, teardown);
  return { proxy, nodes, c1, c2 };
}

/** Runs of a job started at its origin (LOCAL_START), and runs the proxy placed. */
const starts = [
  { how: 'started at its origin', nodeEnv: { LOCAL_START: '1' } },
  { how: 'placed by the proxy', nodeEnv: { LOCAL_START: '0' } },
];

for (const { how, nodeEnv } of starts) {
  t.test(`CANCEL right after RETRY wins: the job ends cancelled everywhere (${how})`, async (t) => {
    const { proxy, nodes, c1, c2 } = await threeNodes(t.teardown, nodeEnv);
    for (let trial = 0; trial < 8; trial++) {
      const ticket = await running(c1, proxy);
      t.equal(await c1.ask(`CANCEL ${ticket}`), 'OK cancelled', `trial ${trial}: the first cancel`);
      t.equal(await c1.ask(`RETRY ${ticket}`), 'OK queued', `trial ${trial}: RETRY`);
      t.equal(
        await c1.ask(`CANCEL ${ticket}`),
        'OK cancelled',
        `trial ${trial}: CANCEL right after`,
      );
      await cancelledEverywhere(ticket, proxy, nodes, c1, c2);
      t.equal(await c1.ask(`CANCEL ${ticket}`), 'OK cancelled', `trial ${trial}: and it stays so`);
    }
  });

  t.test(
    `RETRY and CANCEL pipelined: each reply tells its own command’s outcome (${how})`,
    async (t) => {
      const { proxy, nodes, c1, c2 } = await threeNodes(t.teardown, nodeEnv);
      for (let trial = 0; trial < 6; trial++) {
        const ticket = await running(c1, proxy);
        // the cancel and the retry come from another node than the origin on odd trials
        const c = trial % 2 === 0 ? c1 : c2;
        c.write(`CANCEL ${ticket}\nRETRY ${ticket}\nCANCEL ${ticket}\n`);
        t.equal(await c.next(), 'OK cancelled', `trial ${trial}: CANCEL`);
        t.equal(await c.next(), 'OK queued', `trial ${trial}: RETRY says what it did`);
        t.equal(await c.next(), 'OK cancelled', `trial ${trial}: the last CANCEL`);
        await cancelledEverywhere(ticket, proxy, nodes, c1, c2);
      }
    },
  );

  t.test(`RETRY after CANCEL, pipelined, leaves the job running again (${how})`, async (t) => {
    const { proxy, nodes } = await startCluster(t.teardown, 2, { nodeEnv });
    const [n1, n2] = nodes as [PetrelNode, PetrelNode];
    const c1 = await LineClient.connect(n1.clientPort, t.teardown);
    const c2 = await LineClient.connect(n2.clientPort, t.teardown);
    for (let trial = 0; trial < 4; trial++) {
      const ticket = await running(c1, proxy);
      c1.write(`CANCEL ${ticket}\nRETRY ${ticket}\n`);
      t.equal(await c1.next(), 'OK cancelled', `trial ${trial}: CANCEL`);
      t.equal(await c1.next(), 'OK queued', `trial ${trial}: RETRY`);
      await until(
        async () =>
          proxy.scheduler.view(ticket)?.state === 'running' &&
          (await view(c1, ticket)).state === 'running' &&
          (await view(c2, ticket)).state === 'running',
        10_000,
        `${ticket} to run again, as every node says`,
      );
      t.equal(await c2.ask(`CANCEL ${ticket}`), 'OK cancelled', `trial ${trial}: the end`);
      await cancelledEverywhere(ticket, proxy, nodes, c1, c2);
    }
  });
}

t.test('a cancelled run that is slow to stop does not end the run RETRY started', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2, {
    nodeEnv: { LOCAL_START: '0', EXEC_ALLOW: 'sh' },
  });
  const c = await LineClient.connect((nodes[0] as PetrelNode).clientPort, t.teardown);
  // a process of its own session outlives a cancel's kill of the job's group and holds its
  // output open: the cancelled run is reported only about 2 s later (the drain grace), while
  // the run RETRY starts ends, done, after about 6 s
  const job = { type: 'exec', args: ['sh', '-c', 'setsid sleep 6 & sleep 4'] };
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify(job)}`)).replace(/^OK /, '');
  await until(() => proxy.scheduler.view(ticket)?.state === 'running', 10_000, 'the run');
  c.write(`CANCEL ${ticket}\nRETRY ${ticket}\n`);
  t.equal(await c.next(), 'OK cancelled');
  t.equal(await c.next(), 'OK queued');
  const end = JSON.parse((await c.ask(`WAIT ${ticket} 20000`, 25_000)).slice(3)) as {
    state: string;
  };
  t.equal(end.state, 'done', 'the run RETRY started is the one that counts');
});
