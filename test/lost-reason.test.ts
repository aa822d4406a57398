import t from 'tap';
import { newTicket } from '../shared/ids.js';
import { MAX_LOST_WHY, parseFrame } from '../shared/protocol.js';
import { LineClient, startCluster, until } from './helpers/cluster.js';

/** A worker connection that takes jobs of `type` and never answers them. */
async function silentWorker(port: number, type: string, teardown: (fn: () => unknown) => void) {
  const c = await LineClient.connect(port, teardown);
  const ok = await c.ask(`WORKER ${type} 1`);
  if (ok !== 'OK worker') throw new Error(`WORKER answered ${ok}`);
  return c;
}

interface View {
  state: string;
  error?: string;
  attempts: number;
  runs?: Array<{ attempt: number; error?: string }>;
}

t.test('a run lost on its node says why, in its run and in the final result', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  await silentWorker(n2.clientPort, 'pyt', t.teardown);
  const client = await LineClient.connect(n1.clientPort, t.teardown);
  const line = 'SUBMIT {"type":"pyt","args":["never"],"timeoutMs":1000,"maxAttempts":2}';
  const submitted = await until(async () => {
    const r = await client.ask(line);
    return /unknown job type/.test(r) ? undefined : r; // the type is still on its way to n1
  });
  t.match(submitted, /^OK [0-9A-Z]{26}$/);
  const ticket = submitted.slice(3);

  const reply = await client.ask(`WAIT ${ticket} 20000`, 25_000);
  t.match(reply, /^OK /, reply);
  const v = JSON.parse(reply.slice(3)) as View;
  const why = 'LOST: its worker was silent for more than timeoutMs (1000 ms)';
  t.equal(v.state, 'failed');
  t.equal(v.error, why, 'the final result says why');
  t.same(
    v.runs?.map((r) => [r.attempt, r.error]),
    [
      [1, why],
      [2, why],
    ],
    'each lost run says why',
  );
});

t.test('RES_REQ carries lost runs with their reason, and a bare id as before', async (t) => {
  const id = newTicket();
  const now = parseFrame(JSON.stringify({ type: 'RES_REQ', lost: [{ id, why: 'gone' }] }));
  t.ok(now.ok && now.frame.type === 'RES_REQ' && now.frame.lost.length === 1, 'with a reason');
  const before = parseFrame(JSON.stringify({ type: 'RES_REQ', lost: [id] }));
  t.ok(before.ok, 'a node of the previous release says only the id');
  const long = { id, why: 'x'.repeat(MAX_LOST_WHY + 1) };
  t.notOk(parseFrame(JSON.stringify({ type: 'RES_REQ', lost: [long] })).ok, 'a reason is bounded');
  t.notOk(
    parseFrame(JSON.stringify({ type: 'RES_REQ', lost: [{ id: 'nope', why: 'x' }] })).ok,
    'an id is a ticket',
  );
});
