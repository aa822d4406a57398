import t from 'tap';
import type { JobView } from '../shared/job-view.js';
import { TicketWaits } from '../node/ticket-waits.js';

const done = (ticket: string): JobView => ({
  ticket,
  state: 'done',
  attempts: 1,
  submittedAt: 1_764_540_000_000,
});

t.test('every client waiting for a ticket hears its view, made once', async (t) => {
  const waits = new TicketWaits();
  const a = new AbortController();
  const b = new AbortController();
  const first = waits.waitOwn('T1', 60_000, a.signal);
  const second = waits.waitOwn('T1', 60_000, b.signal);
  const other = waits.waitOwn('T2', 60_000, a.signal);
  let made = 0;
  waits.wake('T1', () => {
    made++;
    return done('T1');
  });
  t.same(await first, done('T1'));
  t.same(await second, done('T1'));
  t.equal(made, 1, 'one view for both');
  waits.wake('T1', () => {
    made++;
    return done('T1');
  });
  t.equal(made, 1, 'nobody waits any more: no view is made');
  waits.wake('T2', () => done('T2'));
  t.same(await other, done('T2'));
});

t.test('a wait ends with timeout after its time', async (t) => {
  const waits = new TicketWaits();
  const c = new AbortController();
  t.equal(await waits.waitOwn('T1', 1, c.signal), 'timeout');
  let made = 0;
  waits.wake('T1', () => {
    made++;
    return done('T1');
  });
  t.equal(made, 0, 'the timed-out client is no longer waiting');
});

t.test('a client that goes away ends its own waits, and only those', async (t) => {
  const waits = new TicketWaits();
  const leaving = new AbortController();
  const staying = new AbortController();
  const gone = [
    waits.waitOwn('T1', 60_000, leaving.signal),
    waits.waitOwn('T2', 60_000, leaving.signal),
  ];
  const kept = waits.waitOwn('T1', 60_000, staying.signal);
  leaving.abort();
  t.same(await Promise.all(gone), ['timeout', 'timeout']);
  waits.wake('T1', () => done('T1'));
  t.same(await kept, done('T1'), 'the other connection still hears the result');
  t.equal(await waits.waitOwn('T3', 60_000, leaving.signal), 'timeout', 'gone already: at once');
});
