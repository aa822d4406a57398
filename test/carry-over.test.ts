import t from 'tap';
import { toCarry } from '../proxy/carry-over.js';
import type { ScheduleRecord } from '../proxy/schedule-store.js';

const schedule = (id: string, state: ScheduleRecord['state'] = 'active'): ScheduleRecord => ({
  id,
  spec: { type: 'echo', args: [], priority: 0, maxAttempts: 1, cron: '0 0 1 1 *' },
  origin: 'n1',
  submittedAt: 1,
  tz: 'UTC',
  nextDue: 2,
  state,
  runs: [],
  cancelledAt: state === 'cancelled' ? 3 : null,
});
const type = (name: string) => ({ name, registeredAt: 1, firstNode: 'n1' });

t.test('a proxy that ran alone carries what the group lacks; what etcd holds wins', async (t) => {
  const local = {
    schedules: [schedule('A'), schedule('B'), schedule('C', 'cancelled')],
    types: [type('resize'), type('thumb')],
  };
  const group = { schedules: [{ record: schedule('B'), pending: [] }], types: ['thumb'] };
  const carry = toCarry(local, group);
  t.same(
    carry.schedules.map((s) => s.id),
    ['A'],
    'an active schedule etcd lacks; not one it holds, not a cancelled one',
  );
  t.same(
    carry.types.map((x) => x.name),
    ['resize'],
  );
  t.same(toCarry({ schedules: [], types: [] }, group), { schedules: [], types: [] });
});
