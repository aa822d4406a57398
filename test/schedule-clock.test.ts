import t from 'tap';
import { firingAt, nextDue } from '../shared/schedule-clock.js';

const at = (iso: string) => Date.parse(iso);

t.test('nextDue is the first due time strictly after the given time', async (t) => {
  t.equal(
    nextDue('* * * * *', undefined, at('2026-11-30T04:00:00.000Z')),
    at('2026-11-30T04:01:00Z'),
  );
  t.equal(
    nextDue('* * * * *', undefined, at('2026-11-30T03:59:59.999Z')),
    at('2026-11-30T04:00:00Z'),
  );
  t.equal(
    nextDue('*/15 * * * *', undefined, at('2026-11-30T04:07:00Z')),
    at('2026-11-30T04:15:00Z'),
  );
});

t.test('tz: the expression reads in the schedule’s zone, daylight saving included', async (t) => {
  // 09:30 in Paris is 08:30 UTC in winter, 07:30 UTC in summer
  t.equal(
    nextDue('30 9 * * *', 'Europe/Paris', at('2026-11-30T04:00:00Z')),
    at('2026-11-30T08:30:00Z'),
  );
  t.equal(
    nextDue('30 9 * * *', 'Europe/Paris', at('2026-07-01T04:00:00Z')),
    at('2026-07-01T07:30:00Z'),
  );
  t.equal(nextDue('30 9 * * *', undefined, at('2026-11-30T04:00:00Z')), at('2026-11-30T09:30:00Z'));
});

t.test('before its due time a schedule does not fire', async (t) => {
  t.equal(
    firingAt('* * * * *', undefined, at('2026-11-30T04:01:00Z'), at('2026-11-30T04:00:59.999Z')),
    null,
  );
  t.equal(
    firingAt('* * * * *', undefined, null, at('2026-11-30T04:00:00Z')),
    null,
    'no more due times',
  );
});

t.test('at its due time it fires once and moves to the next', async (t) => {
  const due = at('2026-11-30T04:01:00Z');
  t.same(firingAt('* * * * *', undefined, due, due), {
    dueAt: due,
    next: at('2026-11-30T04:02:00Z'),
  });
  t.same(firingAt('* * * * *', undefined, due, due + 250), {
    dueAt: due,
    next: at('2026-11-30T04:02:00Z'),
  });
});

t.test('after a long absence it fires once, late, never once per missed due time', async (t) => {
  const due = at('2026-11-30T04:01:00Z');
  const back = at('2026-11-30T04:17:31Z'); // 17 due times passed
  const f = firingAt('* * * * *', undefined, due, back);
  t.same(f, { dueAt: due, next: at('2026-11-30T04:18:00Z') });
  // the clock is consulted again at once: nothing more is due until the next minute
  t.equal(firingAt('* * * * *', undefined, f?.next ?? null, back), null);
});
