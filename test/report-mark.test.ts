import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { ReportMark } from '../node/report-mark.js';
import { NODE_SCHEMA } from '../node/schema.js';
import { TicketStore } from '../node/ticket-store.js';
import { Committer, openDatabase } from '../shared/db.js';
import { newTicket } from '../shared/ids.js';
import { JobSpecSchema } from '../shared/job.js';
import { tempDir } from './helpers/cluster.js';
import { echoResult } from './helpers/job-records.js';

// tickets sort by creation time; single letters stand for them here
t.test('the mark rises to the oldest result the proxy has not recorded', async (t) => {
  const m = new ReportMark('a');
  m.decided('c');
  m.decided('b');
  m.decided('d');
  t.equal(m.size, 3);
  t.equal(m.lowers('c'), false, 'written above the mark: no statement');
  t.equal(m.next('z'), 'b', 'the oldest unacknowledged');
  t.equal(m.next('z'), undefined, 'stored already: nothing to write');
  t.ok(m.acked('c'));
  t.equal(m.next('z'), undefined, 'b still waits');
  t.ok(m.acked('b'));
  t.equal(m.next('z'), 'd');
  t.notOk(m.acked('b'), 'acknowledged twice: nothing moves');
  t.ok(m.acked('d'));
  t.equal(m.next('x'), 'x', 'none left: the floor of tickets issued from now on');
  t.equal(m.mark, 'x');
  t.equal(m.size, 0);
});

t.test('a result ending below the stored mark lowers it in its own write', async (t) => {
  const m = new ReportMark('a');
  m.decided('m');
  t.equal(m.next('z'), 'm');
  // a long run of ticket e ends after m was stored as the mark
  m.decided('e');
  t.equal(m.lowers('e'), true, 'its write lowers the mark');
  t.equal(m.mark, 'e');
  t.equal(m.lowers('e'), false, 'once');
  t.ok(m.acked('m'));
  t.equal(m.next('z'), undefined, 'e holds the mark until the proxy records it');
  t.ok(m.acked('e'));
  t.equal(m.next('z'), 'z');
  // recorded by the proxy before its write ran: nothing to keep, nothing to lower
  m.decided('f');
  t.ok(m.acked('f'));
  t.equal(m.lowers('f'), false);
  t.equal(m.mark, 'z');
});

t.test('the mark never passes a result the proxy has not recorded', async (t) => {
  // a random walk against the rule itself: every result written below the stored mark is acked
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const name = (n: number) => String(n).padStart(6, '0');
  const m = new ReportMark(name(0));
  const written = new Set<string>();
  const acked = new Set<string>();
  const decided: string[] = [];
  let clock = 50;
  for (let step = 0; step < 20_000; step++) {
    const op = rand(4);
    if (op === 0) {
      // a result decided here, its ticket issued up to 40 ticks ago
      const id = name(clock - rand(40));
      clock += 1;
      if (written.has(id) || acked.has(id)) continue;
      m.decided(id);
      decided.push(id);
    } else if (op === 1 && decided.length > 0) {
      const id = decided.splice(rand(decided.length), 1)[0] as string;
      m.lowers(id);
      written.add(id);
    } else if (op === 2) {
      const all = [...written, ...decided].filter((id) => !acked.has(id));
      const id = all[rand(Math.max(1, all.length))];
      if (id !== undefined) {
        m.acked(id);
        acked.add(id);
      }
    } else {
      m.next(name(clock));
    }
    for (const id of written) {
      if (id < m.mark && !acked.has(id)) t.fail(`${id} below the mark ${m.mark} at step ${step}`);
    }
  }
  t.pass('held at every step');
});

t.test('after a rollback the mark is what the file holds again', async (t) => {
  const m = new ReportMark('m', ['p']);
  m.decided('e');
  t.ok(m.lowers('e'));
  m.reset('m');
  t.ok(m.lowers('e'), 'the write that runs again lowers it again');
});

const spec = JobSpecSchema.parse({ type: 'echo', args: ['x'] });
const result = echoResult;

/** A node's ticket file in `dir`, opened as a start does. */
function open(t: Test, dir: string) {
  const db = openDatabase(dir, 'node.db', 'relaxed', NODE_SCHEMA);
  const committer = new Committer(db);
  const tickets = new TicketStore(db, committer);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    committer.stop();
    db.close();
  };
  t.teardown(close);
  const stored = () =>
    (db.prepare('SELECT below FROM report_mark').get() as { below: string }).below;
  return { db, committer, tickets, stored, close };
}

/** Tickets `a` (issued first, still running) and `b` (ended here, recorded by the proxy). */
function longRunBelowMark(t: Test, dir: string) {
  const s = open(t, dir);
  const a = newTicket(Date.now() - 2000);
  const b = newTicket(Date.now() - 1000);
  s.tickets.insert(a, spec, 1, () => {});
  s.tickets.insert(b, spec, 1, () => {});
  s.committer.flush();
  s.tickets.finish(result(b, 2), false);
  s.committer.flush();
  s.tickets.markReported([b]);
  s.committer.flush();
  t.ok(s.stored() > a, 'the mark passed the running ticket');
  t.same(s.tickets.unreported(), [], 'nothing to send again');
  return { ...s, a, b };
}

t.test('a long run that ends below the mark is sent again after a crash', async (t) => {
  const dir = tempDir(t.teardown);
  const s = longRunBelowMark(t, dir);
  s.tickets.finish(result(s.a, 3), false);
  s.committer.flush();
  t.ok(s.stored() <= s.a, 'its commit lowered the mark');
  // killed before the proxy acknowledged it: the next start finds it to send
  s.close();
  const again = open(t, dir);
  const resent = again.tickets.unreported().map((r) => r.id);
  t.equal(resent[0], s.a, 'sent again (b above it may go again too: the proxy has it already)');
  t.equal(again.tickets.expire(Date.now() + 10_000), 0, 'nothing at or above the mark expires');
  again.tickets.markReported(resent);
  again.committer.flush();
  t.same(again.tickets.unreported(), [], 'recorded at last');
  t.equal(again.tickets.expire(Date.now() + 10_000), 2, 'and free to expire');
});

t.test('a write lowering the mark that is rolled back lowers it when it runs again', async (t) => {
  const dir = tempDir(t.teardown);
  const s = longRunBelowMark(t, dir);
  // as SQLite sees a full disk: no page may be added to the file
  const pages = s.db.pragma('page_count', { simple: true }) as number;
  s.db.pragma(`max_page_count = ${pages}`);
  // a's result, then a new ticket too large for the space left, in one transaction
  s.tickets.finish(result(s.a, 3), false);
  let refused: Error | undefined;
  s.tickets.insert(newTicket(), { ...spec, args: ['y'.repeat(64 * 1024)] }, 1, (err) => {
    refused = err;
  });
  s.committer.flush();
  t.ok(s.committer.full, 'rolled back for want of space');
  t.match(String(refused), /full/);
  t.equal(s.tickets.get(s.a)?.state, 'accepted', 'a’s result is not on disk yet');
  s.db.pragma('max_page_count = 1000000');
  s.committer.flush();
  t.notOk(s.committer.full, 'space again');
  t.equal(s.tickets.get(s.a)?.state, 'done', 'the result committed');
  t.ok(s.stored() <= s.a, 'and the mark lowered with it');
});

t.test('a file an older version wrote: its unreported rows fold into the mark', async (t) => {
  const dir = tempDir(t.teardown);
  const old = new Database(join(dir, 'node.db'));
  // the ticket table as older versions made it: a row per unrecorded result in `unreported`
  old.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE tickets (id TEXT PRIMARY KEY, spec TEXT NOT NULL, state TEXT NOT NULL,
      submitted_at INTEGER NOT NULL, result TEXT, finished_at INTEGER,
      reported INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID;
    CREATE TABLE unreported (id TEXT PRIMARY KEY) WITHOUT ROWID;
  `);
  const at = Date.now() - 5000;
  const [early, recorded, listed, flagged] = [0, 1, 2, 3].map((i) => newTicket(at + i * 100)) as [
    string,
    string,
    string,
    string,
  ];
  const put = old.prepare(
    `INSERT INTO tickets (id, spec, state, submitted_at, result, finished_at, reported)
     VALUES (?, ?, 'done', 1, ?, 2, ?)`,
  );
  for (const id of [early, recorded, listed]) {
    put.run(id, JSON.stringify(spec), JSON.stringify(result(id, 2)), 1);
  }
  // the oldest versions flagged the row itself
  put.run(flagged, JSON.stringify(spec), JSON.stringify(result(flagged, 2)), 0);
  old.prepare('INSERT INTO unreported (id) VALUES (?)').run(listed);
  old.close();

  const s = open(t, dir);
  t.same(
    s.tickets.unreported().map((r) => r.id),
    [listed, flagged],
    'both kinds are sent again',
  );
  t.equal(s.stored(), listed, 'the mark starts at the oldest of them');
  t.equal(
    (s.db.prepare('SELECT count(*) AS n FROM unreported').get() as { n: number }).n,
    0,
    'the old table is left empty',
  );
  t.equal(s.tickets.expire(Date.now() + 10_000), 2, 'the recorded results expire');
  t.ok(s.tickets.get(listed), 'the unrecorded ones stay');
  t.ok(s.tickets.get(flagged));
  s.tickets.markReported([listed, flagged]);
  s.committer.flush();
  t.same(s.tickets.unreported(), [], 'recorded: the mark moved past them');
  s.close();
  t.same(open(t, dir).tickets.unreported(), [], 'and a second start folds nothing in again');
});
