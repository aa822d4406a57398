import t from 'tap';
import { NODE_SCHEMA } from '../node/schema.js';
import { TicketStore, recentInStateSql } from '../node/ticket-store.js';
import { Committer, openDatabase } from '../shared/db.js';
import { newTicket } from '../shared/ids.js';
import { tempDir } from './helpers/cluster.js';

t.test("a node's failed and cancelled tickets are listed from their partial indexes", (t) => {
  const db = openDatabase(tempDir(t.teardown), 'node.db', 'relaxed', NODE_SCHEMA);
  t.teardown(() => db.close());
  const tickets = new TicketStore(db, new Committer(db));
  const insert = db.prepare(
    'INSERT INTO tickets (id, spec, state, submitted_at) VALUES (?, ?, ?, ?)',
  );
  const made: Array<{ id: string; state: string }> = [];
  const start = Date.now() - 60_000;
  for (let i = 0; i < 3000; i++) {
    const state =
      i % 500 === 0 ? 'failed' : i % 700 === 0 ? 'cancelled' : i > 2990 ? 'forwarded' : 'done';
    const id = newTicket(start + i);
    insert.run(id, '{"type":"echo","args":["x"]}', state, start + i);
    made.push({ id, state });
  }
  const newest = (state: string, n = 100) =>
    made
      .filter((r) => r.state === state)
      .reverse()
      .slice(0, n);
  t.same(tickets.recentIn(['failed'], 100), newest('failed'), 'every failed ticket, newest first');
  t.same(tickets.recentIn(['cancelled'], 2), newest('cancelled', 2), 'the newest cancelled ones');
  t.same(tickets.recentIn(['done'], 3), newest('done', 3), 'done ones as before');

  // the few failed tickets are read from their index, not by walking every ticket
  for (const state of ['failed', 'cancelled'] as const) {
    const plan = db
      .prepare<[number], { detail: string }>('EXPLAIN QUERY PLAN ' + recentInStateSql(state))
      .all(10)
      .map((r) => r.detail)
      .join('; ');
    t.match(plan, new RegExp(`USING (COVERING )?INDEX tickets_${state}`), `${state}: ${plan}`);
  }
  t.end();
});
