import t from 'tap';
import { newTicket } from '../shared/ids.js';
import { JobSpecSchema } from '../shared/job.js';
import { silentLogger } from '../shared/log.js';
import type { WireJob } from '../shared/protocol.js';
import {
  decodeSchedule,
  encodeSchedule,
  groupKeys,
  PendingRuns,
  typeOfKey,
  type GroupSchedule,
  type GroupWriter,
} from '../proxy/group-state.js';
import { GroupScheduleStore, GroupTypeStore } from '../proxy/group-stores.js';
import { Schedules } from '../proxy/schedules.js';

const at = (iso: string) => Date.parse(iso);
const keys = groupKeys('test');
const flush = () => new Promise((r) => setImmediate(r));

/** etcd as the group stores see it: a map, writes that wait until released, a leader flag. */
class FakeEtcd implements GroupWriter {
  readonly kv = new Map<string, string>();
  leading = true;
  holding = false;
  private held: Array<() => void> = [];

  put(key: string, value: string): Promise<boolean> {
    return this.apply(() => this.kv.set(key, value));
  }

  remove(key: string): Promise<boolean> {
    return this.apply(() => this.kv.delete(key));
  }

  private apply(write: () => void): Promise<boolean> {
    return new Promise((resolve) => {
      const go = () => {
        if (this.leading) write();
        resolve(this.leading);
      };
      if (this.holding) this.held.push(go);
      else go();
    });
  }

  async release(): Promise<void> {
    this.holding = false;
    for (const go of this.held.splice(0)) go();
    await flush();
  }

  schedules(): GroupSchedule[] {
    const out: GroupSchedule[] = [];
    for (const [k, v] of this.kv) {
      if (!k.startsWith(keys.schedules)) continue;
      const g = decodeSchedule(v);
      if (!('error' in g)) out.push(g);
    }
    return out;
  }

  types(): string[] {
    return [...this.kv.keys()].map((k) => typeOfKey(k, keys.types)).filter((x) => x !== undefined);
  }
}

/** One leader's schedules over the fake etcd, loaded as a new leader loads them. */
function leader(etcd: FakeEtcd, clock: { now: number }, known = new Set<string>()) {
  const issued: WireJob[] = [];
  const acks: string[] = [];
  const store = new GroupScheduleStore(etcd, keys, etcd.schedules());
  const schedules = new Schedules({
    store,
    issue: (j) => issued.push(j),
    stateOf: (ticket) => (known.has(ticket) ? 'done' : null),
    ack: (_origin, id) => acks.push(id),
    ended: () => {},
    log: silentLogger(),
    now: () => clock.now,
  });
  t.teardown(() => schedules.close());
  return { schedules, store, issued, acks };
}

const spec = JobSpecSchema.parse({ type: 'echo', args: ['tick'], cron: '* * * * *', tz: 'UTC' });

t.test(
  'a schedule is stored in etcd before its ack and read back by the next leader',
  async (t) => {
    const etcd = new FakeEtcd();
    const clock = { now: at('2026-11-30T04:00:30Z') };
    const id = newTicket(clock.now);
    const a = leader(etcd, clock);
    etcd.holding = true;
    a.schedules.take('n1', [{ id, spec, origin: 'n1', submittedAt: clock.now }]);
    await flush();
    t.same(a.acks, [], 'no ack while the write is unconfirmed');
    a.schedules.take('n1', [{ id, spec, origin: 'n1', submittedAt: clock.now }]);
    await etcd.release();
    t.same(a.acks, [id, id], 'acked once stored; the resend too, no earlier');
    t.equal(etcd.schedules().length, 1);

    const b = leader(etcd, clock);
    t.match(b.schedules.view(id), { state: 'scheduled', next: at('2026-11-30T04:01:00Z') });
  },
);

t.test(
  'a firing is recorded before its run; the next leader fires a missed time once',
  async (t) => {
    const etcd = new FakeEtcd();
    const clock = { now: at('2026-11-30T04:00:30Z') };
    const id = newTicket(clock.now);
    const a = leader(etcd, clock);
    a.schedules.take('n1', [{ id, spec, origin: 'n1', submittedAt: clock.now }]);
    await flush();

    clock.now = at('2026-11-30T04:01:00.010Z');
    etcd.holding = true;
    a.schedules.fireDue();
    t.equal(a.issued.length, 0, 'no run before the firing is in etcd');
    await etcd.release();
    t.equal(a.issued.length, 1, 'issued once recorded');
    const run = a.issued[0] as WireJob;
    t.match(etcd.schedules()[0], {
      record: { nextDue: at('2026-11-30T04:02:00Z'), runs: [run.id] },
      pending: [{ ticket: run.id }],
    });

    // leader A dies before its run ends; B leads from 04:04:10: three due times passed
    etcd.leading = false;
    a.schedules.close();
    etcd.leading = true;
    clock.now = at('2026-11-30T04:04:10Z');
    const b = leader(etcd, clock);
    b.schedules.fireDue();
    await flush();
    t.equal(b.issued.length, 2, 'the unfinished run again, and one firing for the missed times');
    t.same(b.issued[0], run, 'the unfinished run under its own ticket');
    t.not(b.issued[1]?.id, run.id);
    t.match(b.schedules.view(id), { next: at('2026-11-30T04:05:00Z') });
    b.schedules.fireDue();
    await flush();
    t.equal(b.issued.length, 2, 'nothing more until the next due time');

    b.store.runEnded(run.id);
    b.store.runEnded(b.issued[1]?.id as string);
    await flush();
    t.same(etcd.schedules()[0]?.pending, [], 'ended runs leave the record');
    const c = leader(etcd, clock);
    c.schedules.fireDue();
    await flush();
    t.same(c.issued, [], 'a later leader issues nothing twice');
  },
);

t.test('a run this proxy already knows is not issued again', async (t) => {
  const etcd = new FakeEtcd();
  const clock = { now: at('2026-11-30T04:00:30Z') };
  const id = newTicket(clock.now);
  const a = leader(etcd, clock);
  a.schedules.take('n1', [{ id, spec, origin: 'n1', submittedAt: clock.now }]);
  clock.now = at('2026-11-30T04:01:00Z');
  a.schedules.fireDue();
  await flush();
  const run = a.issued[0] as WireJob;
  const b = leader(etcd, clock, new Set([run.id]));
  b.schedules.fireDue();
  await flush();
  t.same(b.issued, []);
  t.same(etcd.schedules()[0]?.pending, [], 'and it leaves the record');
});

t.test('a deposed leader neither acks nor issues', async (t) => {
  const etcd = new FakeEtcd();
  const clock = { now: at('2026-11-30T04:00:30Z') };
  const id = newTicket(clock.now);
  const a = leader(etcd, clock);
  etcd.leading = false;
  a.schedules.take('n1', [{ id, spec, origin: 'n1', submittedAt: clock.now }]);
  await flush();
  t.same(a.acks, []);
  t.equal(a.schedules.has(id), false, 'forgotten, so a resend is taken as new');
  t.same(etcd.schedules(), []);
});

t.test('cancel and expiry reach etcd', async (t) => {
  const etcd = new FakeEtcd();
  const clock = { now: at('2026-11-30T04:00:30Z') };
  const id = newTicket(clock.now);
  const a = leader(etcd, clock);
  a.schedules.take('n1', [{ id, spec, origin: 'n1', submittedAt: clock.now }]);
  await flush();
  let done = false;
  let answered = false;
  etcd.holding = true;
  a.schedules.cancel(id, () => (done = true));
  a.schedules.afterCommit(() => (answered = true));
  await flush();
  t.notOk(answered, 'a CANCEL is not answered before the cancel is in etcd');
  await etcd.release();
  t.ok(done);
  t.ok(answered);
  t.match(leader(etcd, clock).schedules.view(id), { state: 'cancelled' });
  t.equal(a.schedules.expire(clock.now + 1), 1);
  await flush();
  t.same(etcd.schedules(), []);
});

t.test('types: stored before they are confirmed, known to the next leader', async (t) => {
  const etcd = new FakeEtcd();
  const a = new GroupTypeStore(etcd, keys, etcd.types());
  const results: Array<Error | undefined> = [];
  etcd.holding = true;
  a.add(['resize', 'ocr'], 'n1', (err) => results.push(err));
  await flush();
  t.same(results, []);
  await etcd.release();
  t.same(results, [undefined]);
  t.same(new GroupTypeStore(etcd, keys, etcd.types()).all(), ['ocr', 'resize']);
  etcd.leading = false;
  a.add(['zip'], 'n1', (err) => results.push(err));
  await flush();
  t.match(results[1], /no longer leads/);
});

t.test('records and keys are validated when read back', async (t) => {
  const id = newTicket(0);
  const record = {
    id,
    spec,
    origin: 'n1',
    submittedAt: 1,
    tz: 'UTC',
    nextDue: 60_000,
    state: 'active' as const,
    runs: [],
    cancelledAt: null,
  };
  const text = encodeSchedule(record, [{ ticket: id, at: 5 }]);
  t.same(decodeSchedule(text), { record, pending: [{ ticket: id, at: 5 }] });
  t.match(decodeSchedule('{'), { error: 'not JSON' });
  t.ok('error' in decodeSchedule(JSON.stringify({ ...record, pending: [], state: 'odd' })));
  t.equal(typeOfKey(`${keys.types}resize`, keys.types), 'resize');
  t.equal(typeOfKey(`${keys.types}Bad Name`, keys.types), undefined);
  t.equal(typeOfKey('/elsewhere/resize', keys.types), undefined);
  const p = new PendingRuns();
  p.add('s', { ticket: 'x', at: 1 });
  p.add('s', { ticket: 'x', at: 1 });
  t.equal(p.of('s').length, 1, 'a run is noted once');
  t.equal(p.ended('x'), 's');
  t.equal(p.ended('x'), undefined);
});
