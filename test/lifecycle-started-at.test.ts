import t from 'tap';
import type { PetrelNode } from '../node/node.js';
import { LineClient, startCluster, until } from './helpers/cluster.js';

/** A time of a view: ISO-8601 from a node, epoch milliseconds from the proxy's own view. */
const ms = (v: unknown): number => (typeof v === 'string' ? Date.parse(v) : Number(v));

/** The view a node gives of `ticket` (RESULT), parsed. */
async function view(c: LineClient, ticket: string): Promise<Record<string, unknown>> {
  const line = await c.ask(`RESULT ${ticket}`);
  if (!line.startsWith('OK ')) throw new Error(`RESULT ${ticket}: ${line}`);
  return JSON.parse(line.slice(3)) as Record<string, unknown>;
}

t.test('a job started at its origin shows when it started while it runs', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2);
  const [n1, n2] = nodes as [PetrelNode, PetrelNode];
  const c1 = await LineClient.connect(n1.clientPort, t.teardown);
  const c2 = await LineClient.connect(n2.clientPort, t.teardown);
  const ticket = (await c1.ask('SUBMIT sleep 30000')).replace(/^OK /, '');
  t.equal(n1.snapshot().startedHere, 1, 'it started where it was submitted');
  const own = await view(c1, ticket);
  t.equal(own.state, 'running', 'its origin says it runs, at once');
  t.equal(own.node, 'n1');
  t.ok(Number.isFinite(ms(own.startedAt)), 'and since when');
  await until(() => proxy.scheduler.view(ticket)?.state === 'running', 10_000, 'the proxy');
  for (const [who, v] of [
    ['its origin', await view(c1, ticket)],
    ['another node', await view(c2, ticket)],
    ['the proxy', proxy.scheduler.view(ticket) as unknown as Record<string, unknown>],
  ] as const) {
    t.equal(v.state, 'running', `${who}: running`);
    t.ok(Number.isFinite(ms(v.startedAt)), `${who}: startedAt`);
    t.ok(ms(v.startedAt) >= ms(v.submittedAt), `${who}: not before its submission`);
  }
  t.equal(await c2.ask(`CANCEL ${ticket}`), 'OK cancelled');
  const end = JSON.parse((await c1.ask(`WAIT ${ticket} 10000`)).slice(3)) as {
    startedAt: string;
    submittedAt: string;
  };
  const late = ms(end.startedAt) - ms(end.submittedAt);
  t.ok(late >= 0 && late < 1000, 'the run’s own start is about its submission');
});
