import t from 'tap';
import { Committer, openDatabase } from '../shared/db.js';
import { newTicket } from '../shared/ids.js';
import { JobSpecSchema } from '../shared/job.js';
import { type JobResult } from '../shared/job-view.js';
import { silentLogger } from '../shared/log.js';
import type { WireJob } from '../shared/protocol.js';
import { ScheduleStore } from '../proxy/schedule-store.js';
import { runSpec, Schedules } from '../proxy/schedules.js';
import { tempDir } from './helpers/cluster.js';

const at = (iso: string) => Date.parse(iso);

/** A proxy's schedules over a real SQLite file, with a clock the test moves. */
function open(dir: string, clock: { now: number }) {
  const db = openDatabase(dir, 'proxy.db', 'relaxed', '');
  const committer = new Committer(db);
  const issued: WireJob[] = [];
  const acks: string[] = [];
  const ended: JobResult[] = [];
  const schedules = new Schedules({
    store: new ScheduleStore(db, committer),
    issue: (j) => issued.push(j),
    stateOf: () => 'done', // each run ended before the next firing (see schedule-skips.test.ts)
    ack: (_origin, id) => acks.push(id),
    ended: (_origin, r) => ended.push(r),
    log: silentLogger(),
    now: () => clock.now,
  });
  const close = () => {
    schedules.close();
    committer.flush();
    db.close();
  };
  return { schedules, committer, issued, acks, ended, close };
}

const spec = JobSpecSchema.parse({ type: 'echo', args: ['tick'], cron: '* * * * *', tz: 'UTC' });

t.test('fires once per due time, survives restarts, fires a missed time once', async (t) => {
  const dir = tempDir(t.teardown);
  const clock = { now: at('2026-11-30T04:00:30Z') };
  const id = newTicket(clock.now);
  let p = open(dir, clock);
  const rest = p.schedules.take('a', [
    { id, spec, origin: 'a', submittedAt: clock.now },
    { id: newTicket(clock.now), spec: runSpec(spec), origin: 'a', submittedAt: clock.now },
  ]);
  t.equal(rest.length, 1, 'a job without cron goes on to the queue');
  p.committer.flush();
  t.same(p.acks, [id], 'acked once committed');
  t.match(p.schedules.view(id), {
    state: 'scheduled',
    tz: 'UTC',
    next: at('2026-11-30T04:01:00Z'),
  });

  clock.now = at('2026-11-30T04:00:59.999Z');
  p.schedules.fireDue();
  t.equal(p.issued.length, 0, 'not before its time');
  clock.now = at('2026-11-30T04:01:00.004Z');
  p.schedules.fireDue();
  p.schedules.fireDue();
  t.equal(p.issued.length, 1, 'once for the due time, however often it is looked at');
  const run = p.issued[0] as WireJob;
  t.match(run, { origin: 'a', spec: { type: 'echo', args: ['tick'] } });
  t.equal(run.spec.cron, undefined, 'a run is an ordinary job');
  t.equal(run.spec.tz, undefined);
  p.close();

  // the proxy was down from 04:01:30 to 04:05:10: four due times passed
  clock.now = at('2026-11-30T04:05:10Z');
  p = open(dir, clock);
  t.match(p.schedules.view(id), { next: at('2026-11-30T04:02:00Z'), runs: [{ ticket: run.id }] });
  p.schedules.fireDue();
  t.equal(p.issued.length, 1, 'one late firing for all the missed due times');
  t.match(p.schedules.view(id), { next: at('2026-11-30T04:06:00Z') });
  p.close();

  // a restart right after the late firing fires nothing more
  p = open(dir, clock);
  p.schedules.fireDue();
  t.equal(p.issued.length, 0);
  t.equal((p.schedules.view(id)?.runs ?? []).length, 2);

  // a resent forward is acked again, not added again
  p.schedules.take('a', [{ id, spec, origin: 'a', submittedAt: clock.now }]);
  p.committer.flush();
  t.same(p.acks, [id]);
  t.equal(p.schedules.active, 1);

  t.ok(p.schedules.cancel(id));
  p.committer.flush();
  t.match(p.ended, [{ id, state: 'cancelled' }], 'the origin hears it ended');
  t.match(p.schedules.view(id), { state: 'cancelled', next: null });
  clock.now = at('2026-11-30T04:30:00Z');
  p.schedules.fireDue();
  t.equal(p.issued.length, 0, 'a cancelled schedule never fires');
  p.close();
  p = open(dir, clock);
  t.match(p.schedules.view(id), { state: 'cancelled' }, 'cancelled for good');
  t.equal(p.schedules.expire(at('2026-11-30T04:20:00Z')), 1, 'gone with RESULT_TTL');
  t.equal(p.schedules.view(id), null);
  p.close();
});

t.test(
  'a due time that passed before the proxy heard of its schedule fires once, late',
  async (t) => {
    const dir = tempDir(t.teardown);
    // accepted by its node at 04:00:30; the proxy was down until 04:03:10 and hears of it then
    const submittedAt = at('2026-11-30T04:00:30Z');
    const clock = { now: at('2026-11-30T04:03:10Z') };
    const id = newTicket(submittedAt);
    const p = open(dir, clock);
    p.schedules.take('a', [{ id, spec, origin: 'a', submittedAt }]);
    p.committer.flush();
    t.match(p.schedules.view(id), { next: at('2026-11-30T04:01:00Z') }, 'due from its acceptance');
    p.schedules.fireDue();
    t.equal(p.issued.length, 1, 'one late firing for the due times it missed');
    t.match(p.schedules.view(id), { next: at('2026-11-30T04:04:00Z') });
    // a node whose clock runs ahead of the proxy's does not put the first due time off
    const ahead = newTicket(clock.now);
    p.schedules.take('b', [{ id: ahead, spec, origin: 'b', submittedAt: clock.now + 90_000 }]);
    t.match(p.schedules.view(ahead), { next: at('2026-11-30T04:04:00Z') });
    p.close();
  },
);

t.test('the list: active schedules, the soonest to fire first, a few runs each', async (t) => {
  const dir = tempDir(t.teardown);
  const clock = { now: at('2026-11-30T04:00:30Z') };
  const p = open(dir, clock);
  t.teardown(() => p.close());
  const cron = (expr: string) => JobSpecSchema.parse({ type: 'echo', args: ['x'], cron: expr });
  const hourly = newTicket(clock.now);
  const minutely = newTicket(clock.now);
  const daily = newTicket(clock.now);
  const gone = newTicket(clock.now);
  p.schedules.take(
    'a',
    [
      [hourly, '0 * * * *'],
      [minutely, '* * * * *'],
      [daily, '0 0 * * *'],
      [gone, '* * * * *'],
    ].map(([id, expr]) => ({ id: id!, spec: cron(expr!), origin: 'a', submittedAt: clock.now })),
  );
  p.committer.flush();
  t.ok(p.schedules.cancel(gone));
  const all = p.schedules.list(10);
  t.same(
    all.schedules.map((v) => v.ticket),
    [minutely, hourly, daily],
    'soonest first; a cancelled one is not listed',
  );
  t.equal(all.total, 3);
  const first = p.schedules.list(2);
  t.same(
    first.schedules.map((v) => v.ticket),
    [minutely, hourly],
  );
  t.equal(first.total, 3, 'the total counts those beyond the limit');

  for (let i = 1; i <= 3; i++) {
    clock.now = at(`2026-11-30T04:0${i}:00Z`);
    p.schedules.fireDue();
  }
  const runs = (n?: number) => p.schedules.list(1, n).schedules[0]?.runs ?? [];
  t.equal(runs().length, 3, 'every run kept by default');
  t.same(
    runs(2).map((r) => r.ticket),
    p.issued
      .slice(-2)
      .reverse()
      .map((j) => j.id),
    'the newest runs, newest first',
  );
  t.same(runs(0), [], 'none asked for');
});
