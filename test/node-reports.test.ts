import t from 'tap';
import { FrameBatcher } from '../shared/batcher.js';
import { newTicket } from '../shared/ids.js';
import type { FrameIn } from '../shared/protocol.js';
import type { Assignments } from '../proxy/assignments.js';
import { newJob, type Job, type JobTable } from '../proxy/job-table.js';
import { Membership } from '../proxy/membership.js';
import { NodeReports } from '../proxy/node-reports.js';
import { Outbox } from '../proxy/outbox.js';
import type { Results } from '../proxy/results.js';
import type { Schedules } from '../proxy/schedules.js';

const PERIOD = 3000;
const now = 1_760_000_000_000;

function setup() {
  const members = new Membership();
  const sent: FrameIn[] = [];
  const resent: string[] = [];
  const send = (f: FrameIn) => sent.push(f);
  const n = members.attach('n1', 4, { out: new FrameBatcher(send), send, close() {} }, now);
  const reports = new NodeReports({
    table: {} as JobTable,
    assignments: { send: (job: Job) => resent.push(job.id) } as unknown as Assignments,
    results: { resendDue() {} } as unknown as Results,
    schedules: {} as Schedules,
    members,
    outbox: new Outbox(),
  });
  const give = (placed: boolean, sentAt: number): Job => {
    const job = newJob({
      id: newTicket(now),
      spec: { type: 'echo', args: [], priority: 0, maxAttempts: 3 },
      origin: 'o',
      submittedAt: now,
      seq: 1,
    });
    Object.assign(job, { state: 'assigned', node: 'n1', placed, sentAt });
    n.jobs.add(job);
    return job;
  };
  return { reports, sent, resent, give };
}

t.test('the sweep asks about jobs placed a period ago, not those placed since', (t) => {
  const { reports, sent, resent, give } = setup();
  const old = give(true, now - PERIOD);
  give(true, now - 10);
  const recovered = give(true, 0); // recovered after a restart: its dispatch time is unknown
  reports.sweep(PERIOD, now);
  t.same(sent, [{ type: 'REQUEST_OF_RES', ids: [old.id, recovered.id] }]);
  t.same(resent, []);
  t.end();
});

t.test(
  'unacknowledged dispatches are sent again after a period; nothing is asked without cause',
  (t) => {
    const { reports, sent, resent, give } = setup();
    const lost = give(false, now - PERIOD);
    give(false, now - 1);
    give(true, now - 1);
    reports.sweep(PERIOD, now);
    t.same(resent, [lost.id], 'only the dispatch a period old goes again');
    t.same(sent, [], 'no REQUEST_OF_RES when no placed job is a period old');
    t.end();
  },
);
