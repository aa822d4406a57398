import t, { type Test } from 'tap';
import { RecentTickets } from '../node/recent-tickets.js';
import { Committer, openDatabase } from '../shared/db.js';
import { NODE_SCHEMA } from '../node/schema.js';
import { TicketStore, type TicketRow } from '../node/ticket-store.js';
import { newTicket } from '../shared/ids.js';
import { JobSpecSchema } from '../shared/job.js';
import { tempDir } from './helpers/cluster.js';
import { echoResult } from './helpers/job-records.js';

const spec = JobSpecSchema.parse({ type: 'echo', args: ['x'] });
const result = echoResult;
const row = (id: string): TicketRow => ({
  id,
  spec,
  state: 'done',
  submittedAt: 1,
  result: result(id, 1),
});

t.test('RecentTickets keeps at least the newest half of its bound, never more', async (t) => {
  const recent = new RecentTickets(4);
  for (const id of ['a', 'b', 'c']) recent.add(row(id));
  t.ok(recent.get('a') && recent.get('b') && recent.get('c'), 'within the bound: all kept');
  recent.add(row('d'));
  recent.add(row('e'));
  t.equal(recent.get('a'), undefined, 'the oldest went');
  t.equal(recent.get('b'), undefined);
  t.ok(recent.get('c') && recent.get('d') && recent.get('e'));
  recent.forget('d');
  t.equal(recent.get('d'), undefined, 'a forgotten row is gone');
  for (let i = 0; i < 50; i++) {
    recent.add(row(`r${i}`));
    t.ok(recent.size <= 4, 'never more than its bound');
    t.ok(recent.get(`r${i}`) && (i === 0 || recent.get(`r${i - 1}`)), 'the newest two kept');
  }
  recent.clear();
  t.equal(recent.size, 0);
  t.equal(recent.get('r49'), undefined);
});

t.test('RecentTickets answers a row added again with its newest version', async (t) => {
  const recent = new RecentTickets(4);
  recent.add(row('a'));
  recent.add(row('b')); // 'a' and 'b' are now the older generation
  recent.add({ ...row('a'), state: 'failed' });
  t.equal(recent.get('a')?.state, 'failed', 'the newer row');
  recent.forget('a');
  t.equal(recent.get('a'), undefined, 'forgotten in both generations');
  t.ok(recent.get('b'));
});

function store(t: Test) {
  const db = openDatabase(tempDir(t.teardown), 'node.db', 'relaxed', NODE_SCHEMA);
  t.teardown(() => db.close());
  const committer = new Committer(db);
  // here: 1 for a result decided here (the proxy hears of it from this node)
  const raw = (id: string) =>
    db.prepare('SELECT state, result, here FROM tickets WHERE id = ?').get(id) as
      { state: string; result: string | null; here: number } | undefined;
  return { tickets: new TicketStore(db, committer), committer, raw };
}

t.test('a job that ends before its ticket commits is written finished, in one row', async (t) => {
  const { tickets, committer, raw } = store(t);
  const id = newTicket(Date.now() - 1000);
  const order: string[] = [];
  tickets.insert(id, spec, 1, (err) => order.push(`insert ${err ?? 'ok'}`));
  tickets.finish(result(id, 2), false, (err) => order.push(`finish ${err ?? 'ok'}`));
  t.equal(raw(id), undefined, 'nothing written before the commit');
  committer.flush();
  t.same(order, ['insert ok', 'finish ok'], 'each is told, in order, once committed');
  t.same(raw(id), { state: 'done', result: JSON.stringify(result(id, 2)), here: 1 });
  const got = tickets.get(id);
  t.equal(got?.state, 'done');
  t.same(got?.result, result(id, 2));
  t.same(
    tickets.unreported().map((r) => r.id),
    [id],
    'sent again after a restart until the proxy records it',
  );
  tickets.markReported([id]);
  committer.flush();
  t.same(tickets.unreported(), [], 'recorded: no longer sent again');
});

t.test('a job that ends after its ticket committed updates the row', async (t) => {
  const { tickets, committer, raw } = store(t);
  const id = newTicket(Date.now());
  tickets.insert(id, spec, 1, () => {});
  committer.flush();
  t.equal(raw(id)?.state, 'accepted');
  tickets.finish(result(id, 2), true);
  committer.flush();
  t.same(raw(id), { state: 'done', result: JSON.stringify(result(id, 2)), here: 0 });
});

t.test('RETRY and expiry: get() never answers from a row the file no longer has', async (t) => {
  const { tickets, committer, raw } = store(t);
  const id = newTicket(Date.now() - 10_000);
  tickets.insert(id, spec, 1, () => {});
  tickets.finish(result(id, 2), true);
  committer.flush();
  tickets.reopen(id, () => {});
  committer.flush();
  t.equal(raw(id)?.state, 'forwarded');
  t.equal(tickets.get(id)?.state, 'forwarded', 'reopened: read from the file');
  tickets.finish(result(id, 3), true);
  committer.flush();
  t.equal(tickets.expire(Date.now()), 1);
  t.equal(tickets.get(id), undefined, 'expired: gone');
  const again = newTicket(Date.now() - 10_000);
  tickets.insert(again, spec, 1, () => {});
  tickets.finish(result(again, 2), true);
  committer.flush();
  t.ok(tickets.get(again));
  t.equal(tickets.expire(Date.now()), 1);
  t.equal(tickets.get(again), undefined, 'a row written finished is forgotten on expiry too');
});

t.test('the proxy records a result before its ticket commits: the row says so', async (t) => {
  const { tickets, committer, raw } = store(t);
  const id = newTicket(Date.now() - 1000);
  tickets.insert(id, spec, 1, () => {});
  tickets.finish(result(id, 2), false);
  tickets.markReported([id]);
  committer.flush();
  t.equal(raw(id)?.here, 1, 'decided here');
  t.same(tickets.unreported(), [], 'and recorded already');
});

t.test('rows an older version flagged unreported are listed as such after a restart', async (t) => {
  const dir = tempDir(t.teardown);
  const db = openDatabase(dir, 'node.db', 'relaxed', NODE_SCHEMA);
  t.teardown(() => db.close());
  const id = newTicket(Date.now());
  db.prepare(
    `INSERT INTO tickets (id, spec, state, submitted_at, result, finished_at, reported)
     VALUES (?, ?, 'done', 1, ?, 2, 0)`,
  ).run(id, JSON.stringify(spec), JSON.stringify(result(id, 2)));
  db.exec(NODE_SCHEMA); // what the next start runs
  const tickets = new TicketStore(db, new Committer(db));
  t.same(
    tickets.unreported().map((r) => r.id),
    [id],
  );
  t.equal(tickets.expire(Date.now() + 10_000), 0, 'an unreported result never expires');
});

t.test('a reopened ticket is no longer an unreported result', async (t) => {
  const { tickets, committer } = store(t);
  const id = newTicket(Date.now());
  tickets.insert(id, spec, 1, () => {});
  tickets.finish(result(id, 2), false);
  committer.flush();
  t.equal(tickets.unreported().length, 1);
  tickets.reopen(id, () => {});
  committer.flush();
  t.same(tickets.unreported(), []);
});
