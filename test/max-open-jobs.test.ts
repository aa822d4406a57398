import t from 'tap';
import { OpenTickets, weightOf } from '../node/open-tickets.js';
import type { OpenTicket } from '../node/origin.js';
import { loadNodeConfig } from '../shared/config.js';
import { LineClient, serveNodeHttp, startCluster, until } from './helpers/cluster.js';

t.test('MAX_OPEN_JOBS: a node holds at most so many unfinished jobs, then says BUSY', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, {
    nodeEnv: { MAX_OPEN_JOBS: '3', SLOTS: '4' },
  });
  const node = nodes[0]!;
  const c = await LineClient.connect(node.clientPort, t.teardown);
  const tickets: string[] = [];
  for (let i = 0; i < 3; i++) {
    const reply = await c.ask('SUBMIT sleep 60000');
    t.match(reply, /^OK [0-9A-Z]{26}$/);
    tickets.push(reply.slice(3));
  }
  t.match(
    await c.ask('SUBMIT echo one too many'),
    /^ERR BUSY this node holds 3 unfinished jobs and tasks \(MAX_OPEN_JOBS\)/,
  );
  t.match(await c.ask('500'), /BUSY/, 'the seed dialect is refused alike');

  const base = await serveNodeHttp(t.teardown, node);
  const post = () =>
    fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'echo', args: ['over http'] }),
    });
  const refused = await post();
  t.equal(refused.status, 429);
  t.equal(refused.headers.get('retry-after'), '1');
  t.match(await refused.json(), { error: { code: 'BUSY', message: /MAX_OPEN_JOBS/ } });

  // a job that ends makes room: the same request now succeeds
  t.match(await c.ask(`CANCEL ${tickets[0]}`), /^OK /);
  const accepted = await until(async () => {
    const res = await post();
    return res.status === 201 ? res : null;
  });
  const { ticket } = (await accepted.json()) as { ticket: string };
  t.match(await c.ask(`WAIT ${ticket} 20000`), /"output":"over http"/);
  for (const id of tickets.slice(1)) await c.ask(`CANCEL ${id}`);
});

t.test('MAX_OPEN_JOBS is a whole number from 1, 250,000 by default', async (t) => {
  t.equal(loadNodeConfig({}).MAX_OPEN_JOBS, 250_000);
  t.throws(() => loadNodeConfig({ MAX_OPEN_JOBS: '0' }), /MAX_OPEN_JOBS="0": must be at least 1/);
});

t.test('a job of many tasks weighs its tasks', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, {
    nodeEnv: { MAX_OPEN_JOBS: '3', SLOTS: '4' },
  });
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const tasks = [1, 2, 3].map(() => ({ type: 'sleep', args: ['60000'] }));
  const job = (await c.ask(`SUBMIT ${JSON.stringify({ tasks })}`)).slice(3);
  t.match(await c.ask('SUBMIT echo fourth'), /^ERR BUSY this node holds 3 unfinished/);
  t.match(await c.ask(`CANCEL ${job}`), /^OK /);
  t.match(await c.ask('SUBMIT echo fourth'), /^OK /, 'its end frees all three');
});

t.test('the open tickets keep their weight as they come and go', async (t) => {
  const open = new OpenTickets();
  const ticket = (id: string, tasks?: number): OpenTicket => ({
    id,
    spec: {
      type: tasks ? undefined : 'echo',
      args: [],
      priority: 0,
      maxAttempts: 3,
      tasks: tasks ? Array.from({ length: tasks }, () => ({ type: 'echo', args: [] })) : undefined,
    } as unknown as OpenTicket['spec'],
    submittedAt: 0,
    state: 'accepted',
    local: false,
  });
  open.set('a', ticket('a'));
  open.set('b', ticket('b', 5));
  t.equal(open.weight, 6);
  open.set('b', { ...ticket('b', 5), state: 'forwarded' });
  t.equal(open.weight, 6, 'a ticket set again is not counted twice');
  t.equal(open.delete('a'), true);
  t.equal(open.delete('a'), false);
  t.equal(open.weight, 5, 'nor deleted twice');
  open.clear();
  t.equal(open.weight, 0);
  t.equal(weightOf({}), 1);
});
