import { pino } from 'pino';
import t from 'tap';
import { Committer, openDatabase } from '../shared/db.js';
import { newTicket } from '../shared/ids.js';
import { JobSpecSchema, type ClientState } from '../shared/job.js';
import { viewToClient, viewToClientJson } from '../shared/job-view.js';
import type { WireJob } from '../shared/protocol.js';
import { ScheduleStore } from '../proxy/schedule-store.js';
import { Schedules } from '../proxy/schedules.js';
import { tempDir } from './helpers/cluster.js';

const at = (iso: string) => Date.parse(iso);

t.test('a firing is skipped while the previous run still waits to run', async (t) => {
  const db = openDatabase(tempDir(t.teardown), 'proxy.db', 'relaxed', '');
  const committer = new Committer(db);
  const clock = { now: at('2026-11-30T04:00:30Z') };
  const issued: WireJob[] = [];
  const states = new Map<string, ClientState | null>();
  const warnings: string[] = [];
  const log = pino(
    { level: 'warn' },
    { write: (line: string) => warnings.push((JSON.parse(line) as { msg: string }).msg) },
  );
  const schedules = new Schedules({
    store: new ScheduleStore(db, committer),
    issue: (j) => {
      issued.push(j);
      states.set(j.id, 'queued');
    },
    stateOf: (ticket) => (states.has(ticket) ? (states.get(ticket) as ClientState | null) : null),
    ack: () => {},
    ended: () => {},
    log,
    now: () => clock.now,
  });
  t.teardown(() => {
    schedules.close();
    committer.flush();
    db.close();
  });
  // a run that can never be placed: no node has the label
  const spec = cronSpec({ constraints: { labels: ['gpu'] } });
  const id = newTicket(clock.now);
  schedules.take('a', [{ id, spec, origin: 'a', submittedAt: clock.now }]);
  committer.flush();
  const minute = async (m: number) => {
    clock.now = at(`2026-11-30T04:0${m}:00.004Z`);
    schedules.fireDue();
    committer.flush();
    await new Promise((r) => setImmediate(r));
  };

  await minute(1);
  t.equal(issued.length, 1, 'the first firing runs');
  const first = issued[0]!.id;
  await minute(2);
  await minute(3);
  await minute(4);
  t.equal(issued.length, 1, 'no run piles up behind one still queued');
  t.match(schedules.view(id), { skipped: 3, next: at('2026-11-30T04:05:00Z') });
  t.match(viewToClient(schedules.view(id)!), { skipped: 3 }, 'the client sees the count');
  t.equal(viewToClientJson(schedules.view(id)!), JSON.stringify(viewToClient(schedules.view(id)!)));
  t.equal(warnings.length, 1, 'logged once, not every minute');
  t.match(warnings[0], /skipped: its previous run still waits to run/);

  states.set(first, 'running');
  await minute(5);
  t.equal(issued.length, 2, 'fires again once the previous run started');
  const second = issued[1]!.id;
  for (const waiting of ['scheduled', 'blocked'] as const) {
    states.set(second, waiting);
    await minute(waiting === 'scheduled' ? 6 : 7);
  }
  t.equal(
    issued.length,
    2,
    'a run waiting out a backoff or for its dependencies holds it back too',
  );
  t.equal(warnings.length, 2, 'a new streak of skips is logged again');
  t.match(schedules.view(id), { skipped: 5 });

  states.set(second, null); // it ended and expired long ago
  await minute(8);
  t.equal(issued.length, 3, 'a run no longer known does not hold the schedule back');
  states.set(issued[2]!.id, 'done');
  await minute(9);
  t.equal(issued.length, 4, 'nor does a run that ended');
  t.same(schedules.counts, { active: 1, fired: 4, skipped: 5 }, 'for /metrics');
  schedules.cancel(id);
  t.same(schedules.counts, { active: 0, fired: 4, skipped: 5 });
});

function cronSpec(extra: Record<string, unknown>) {
  return JobSpecSchema.parse({ type: 'echo', args: ['tick'], cron: '* * * * *', ...extra });
}
