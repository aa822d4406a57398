import t from 'tap';
import { FORGET_NODE_MS, Membership, type NodeConn } from '../proxy/membership.js';
import { FrameBatcher } from '../shared/batcher.js';

function conn(): NodeConn & { closed: string[] } {
  const closed: string[] = [];
  return {
    closed,
    out: new FrameBatcher(() => {}),
    send: () => {},
    close: (_code, reason) => closed.push(reason),
  };
}

t.test('a newer connection replaces the older one, and only the current one detaches', (t) => {
  const m = new Membership();
  const a = conn();
  const b = conn();
  m.attach('n1', 2, a, 1000);
  m.attach('n1', 4, b, 2000);
  t.same(a.closed, ['replaced by a newer connection']);
  t.equal(m.get('n1')?.slots, 4);
  t.equal(m.detach('n1', a), undefined, 'the replaced connection closing changes nothing');
  t.equal(m.connected().length, 1);
  t.equal(m.connectedCount, 1, 'a replaced connection is not counted twice');
  m.attach('n2', 1, conn(), 2500);
  t.equal(m.connectedCount, 2);
  t.equal(m.detach('n1', b)?.id, 'n1');
  t.equal(m.connected().length, 1);
  t.equal(m.connectedCount, 1);
  t.equal(m.detach('n1', b), undefined, 'a second close of the same connection');
  t.equal(m.connectedCount, 1);
  t.end();
});

t.test('silence beyond the timeout is a verdict; a stall of the proxy itself is not', (t) => {
  const m = new Membership();
  const start = Date.now();
  m.attach('quiet', 1, conn(), start);
  m.attach('chatty', 1, conn(), start);
  t.same(m.findDead(1000, start + 400), { silent: [], absent: [] });
  t.same(m.findDead(1000, start + 800), { silent: [], absent: [] });
  m.heard(m.entry('chatty'), start + 900);
  const v = m.findDead(1000, start + 1100);
  t.same(
    v.silent.map((n) => n.id),
    ['quiet'],
  );
  // the proxy itself did not look for 5 s: nobody is blamed for that gap
  t.same(m.findDead(1000, start + 6100), { silent: [], absent: [] });
  t.end();
});

t.test('a node held jobs but never came back; a node holding nothing is forgotten', (t) => {
  const m = new Membership();
  const now = Date.now();
  const holder = m.entry('holder');
  holder.jobs.add({} as never);
  m.entry('idle');
  m.restartGrace(now);
  t.same(m.findDead(1000, now + 400), { silent: [], absent: [] });
  t.same(m.findDead(1000, now + 800), { silent: [], absent: [] });
  t.same(
    m.findDead(1000, now + 1200).absent.map((n) => n.id),
    ['holder'],
  );
  // checks keep coming every 400 ms, as the proxy's timer makes them
  for (let at = now + 1600; at < now + FORGET_NODE_MS + 2000; at += 400) m.findDead(1000, at);
  t.equal(m.get('idle'), undefined, 'forgotten');
  t.ok(m.get('holder'), 'a node still holding jobs is kept');
  t.end();
});

t.test('INFO reports the start of draining once', (t) => {
  const m = new Membership();
  const n = m.attach('n1', 1, conn());
  const info = { type: 'INFO' as const, queued: 1, running: 2, free: 0, started: [] };
  t.equal(m.noteInfo(n, { ...info, draining: false }), false);
  t.equal(m.noteInfo(n, { ...info, draining: true }), true);
  t.equal(m.noteInfo(n, { ...info, draining: true }), false);
  t.equal(n.running, 2);
  t.end();
});
