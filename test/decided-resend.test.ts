import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { newTicket } from '../shared/ids.js';
import type { PetrelProxy } from '../proxy/proxy.js';
import { startProxy, tempDir, until } from './helpers/cluster.js';
import { fakeResult, RawNode, type Json } from './helpers/fuzz.js';

/**
 * A job its origin ran itself (LOCAL_START) reaches the proxy with its result. Sent again (its
 * ACK was lost, the origin reconnected or its resend timer fired), it must be acked again
 * without being counted twice, whether its row is committed already or not yet.
 */

type Teardown = (fn: () => unknown) => void;

/** A raw node `a` joined to `proxy`. */
async function joined(teardown: Teardown, proxy: PetrelProxy): Promise<RawNode> {
  const n = await RawNode.connect(`ws://127.0.0.1:${proxy.port}/cluster`);
  teardown(() => n.terminate());
  await n.nonce();
  n.hello('a');
  await n.frame('WELCOME');
  return n;
}

/** A job `a` ran itself, as it forwards it. */
function decided(id: string, result: Json = {}): Json {
  const submittedAt = Date.now();
  return {
    id,
    spec: { type: 'echo', args: ['x'] },
    origin: 'a',
    submittedAt,
    result: fakeResult(id, 'a', { output: 'x', ...result }),
  };
}

/** How many times the proxy acked `id`'s result to `n`. */
function acks(n: RawNode, id: string): number {
  const lists = n.frames.filter((f) => f.type === 'ACK').map((f) => f.results as string[]);
  return lists.flat().filter((x) => x === id).length;
}

function awaitAcks(n: RawNode, id: string, count: number): Promise<true> {
  return n.wait(() => acks(n, id) >= count || undefined, 10_000, `ACK ${count} of ${id}`);
}

/** What a user reads of the proxy: its totals (as STATS) and a ticket's view. */
async function api(proxy: PetrelProxy, path: string): Promise<Json> {
  const res = await fetch(`http://127.0.0.1:${proxy.port}${path}`);
  return (await res.json()) as Json;
}
async function totals(proxy: PetrelProxy): Promise<Record<string, number>> {
  return (await api(proxy, '/api/cluster')).totals as Record<string, number>;
}

/** The proxy's file as another reader sees it: what is committed. */
function committed(teardown: Teardown, dir: string) {
  const db = new Database(join(dir, 'proxy.db'), { readonly: true });
  teardown(() => db.close());
  const row = db.prepare<[string], Json>(
    'SELECT state, node, result, finished_at, delivered, seq FROM jobs WHERE id = ?',
  );
  const counters = db.prepare<[], { name: string; value: number }>('SELECT * FROM counters');
  return {
    row: (id: string) => row.get(id),
    counters: () => Object.fromEntries(counters.all().map((c) => [c.name, c.value])),
  };
}

t.test('a result sent again after its row committed: acked, counted once, row kept', async (t) => {
  const dir = tempDir(t.teardown);
  const proxy = await startProxy(t.teardown, {}, dir);
  const file = committed(t.teardown, dir);
  const a = await joined(t.teardown, proxy);
  const id = newTicket();
  const job = decided(id);

  a.send({ type: 'JOB', jobs: [job] });
  await awaitAcks(a, id, 1);
  const first = file.row(id);
  t.match(first, { state: 'done', node: 'a', delivered: 1 }, 'stored as delivered');
  t.match(await totals(proxy), { submitted: 1, done: 1, duplicates: 0 });
  t.match(file.counters(), { submitted: 1, done: 1 }, 'its counts committed with its row');

  // its ACK was lost: the origin sends it again, on this connection and after reconnecting
  a.send({ type: 'JOB', jobs: [job] });
  await awaitAcks(a, id, 2);
  a.terminate();
  const again = await joined(t.teardown, proxy);
  again.send({ type: 'JOB', jobs: [job] });
  await awaitAcks(again, id, 1);

  t.match(await totals(proxy), { submitted: 1, done: 1, duplicates: 0 }, 'counted once');
  t.match(file.counters(), { submitted: 1, done: 1 });
  t.same(file.row(id), first, 'its row unchanged');
  const view = await api(proxy, `/api/jobs/${id}`);
  t.match(view, { state: 'done', node: 'a', output: 'x' });
});

t.test('a result sent again that differs: the origin’s replaces it, a duplicate', async (t) => {
  const dir = tempDir(t.teardown);
  const proxy = await startProxy(t.teardown, {}, dir);
  const file = committed(t.teardown, dir);
  const a = await joined(t.teardown, proxy);
  const id = newTicket();
  const job = decided(id, { output: 'first' });

  a.send({ type: 'JOB', jobs: [job] });
  await awaitAcks(a, id, 1);
  const finishedAt = (job.result as Json).finishedAt as number;
  const other = decided(id, { output: 'second', finishedAt: finishedAt + 5 });
  a.send({ type: 'JOB', jobs: [other] });
  await awaitAcks(a, id, 2);

  // read at once: the ACK follows the commit that replaced the result
  const row = file.row(id) as Json;
  t.equal(row.finished_at, finishedAt + 5, 'replaced before the ACK');
  t.match(JSON.parse(row.result as string), { output: 'second' });
  t.match(await totals(proxy), { submitted: 1, done: 1, duplicates: 1 });
  t.match(file.counters(), { submitted: 1, done: 1, duplicates: 1 });
  t.match(await api(proxy, `/api/jobs/${id}`), { state: 'done', output: 'second' });

  a.send({ type: 'JOB', jobs: [other] });
  await awaitAcks(a, id, 3);
  t.match(await totals(proxy), { submitted: 1, duplicates: 1 }, 'the same one again: no more');
});

t.test('sent again before its first commit, on a full disk: counted once', async (t) => {
  const dir = tempDir(t.teardown);
  const proxy = await startProxy(t.teardown, {}, dir);
  const file = committed(t.teardown, dir);
  const a = await joined(t.teardown, proxy);
  const committer = proxy.committer;
  if (!committer) throw new Error('no committer');
  let tries = 0;
  const flush = committer.flush.bind(committer);
  committer.flush = () => {
    tries++;
    flush();
  };

  // as SQLite sees a full disk: no page may be added. The job's row fits, but a second one in
  // the same batch needs pages of its own: the transaction fails after counting the first.
  const pages = proxy.db.pragma('page_count', { simple: true }) as number;
  proxy.db.pragma(`max_page_count = ${pages}`);
  const id = newTicket();
  const job = decided(id);
  const big = decided(newTicket(), { output: 'y'.repeat(64 * 1024) });
  a.send({ type: 'JOB', jobs: [job, big] });
  await until(() => committer.full, 10_000, 'the disk to be seen full');
  a.send({ type: 'JOB', jobs: [job] });
  // the batch is rolled back and run again, several times
  const from = tries;
  await until(() => tries >= from + 3, 10_000, 'the batch to be tried again');
  t.equal(acks(a, id), 0, 'no ACK before its commit');
  t.equal(file.row(id), undefined, 'nothing committed');

  proxy.db.pragma('max_page_count = 1000000');
  await awaitAcks(a, id, 2);
  await awaitAcks(a, big.id as string, 1);
  t.match(file.row(id), { state: 'done', node: 'a' });
  t.match(await totals(proxy), { submitted: 2, done: 2, duplicates: 0 }, 'each counted once');
  t.match(file.counters(), { submitted: 2, done: 2 }, 'and committed so');
});

t.test('another origin’s stored job claimed twice before a commit: both refused', async (t) => {
  const proxy = await startProxy(t.teardown, {});
  const a = await joined(t.teardown, proxy);
  const id = newTicket();
  a.send({ type: 'JOB', jobs: [decided(id)] });
  await awaitAcks(a, id, 1);

  // node b claims a's ticket as its own result, twice in one frame: the second copy arrives
  // while the first is not yet committed, and must be judged by a's row, not by the first copy
  const b = await RawNode.connect(`ws://127.0.0.1:${proxy.port}/cluster`);
  t.teardown(() => b.terminate());
  await b.nonce();
  b.hello('b');
  await b.frame('WELCOME');
  const rejected0 = (await totals(proxy)).rejected ?? 0;
  const forged = { ...decided(id, { node: 'b', output: 'forged' }), origin: 'b' };
  b.send({ type: 'JOB', jobs: [forged, forged] });
  await until(
    async () => (await totals(proxy)).rejected === rejected0 + 2,
    10_000,
    'both copies to be refused',
  );
  // a frame after them, acked, shows the proxy is past them: neither was acked
  const own = newTicket();
  b.send({ type: 'JOB', jobs: [{ ...decided(own), origin: 'b' }] });
  await awaitAcks(b, own, 1);
  t.equal(acks(b, id), 0, 'no ACK for a ticket b did not issue');
  t.match(await api(proxy, `/api/jobs/${id}`), { node: 'a', output: 'x' }, 'a’s result kept');
});
