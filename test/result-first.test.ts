import t from 'tap';
import { FrameBatcher } from '../shared/batcher.js';
import { newTicket } from '../shared/ids.js';
import type { JobResult } from '../shared/job-view.js';
import { silentLogger } from '../shared/log.js';
import type { FrameIn, WireJob } from '../shared/protocol.js';
import { Assignments as NodeAssignments } from '../node/assignments.js';
import type { Executor } from '../node/executor.js';
import type { ProxyLink } from '../node/proxy-link.js';
import type { WorkStore } from '../node/work-store.js';
import { Assignments, type AssignmentsDeps } from '../proxy/assignments.js';
import { newJob, type Job } from '../proxy/job-table.js';
import { Membership } from '../proxy/membership.js';
import { createPolicy } from '../proxy/policies.js';

/**
 * A job that ends before its row commits on the node that runs it (an `echo`) is reported by
 * its RESULT alone: the node leaves out its ACK and the start its INFO would carry, and the
 * proxy reads the round trip adaptive prefetch needs from the result instead.
 */

const echo = { type: 'echo', args: ['x'], priority: 0, maxAttempts: 3 };

function node() {
  const commits: Array<() => void> = [];
  const acks: string[] = [];
  const results: JobResult[] = [];
  const store = {
    insert: (_w: unknown, cb: (err: Error | null) => void) => commits.push(() => cb(null)),
    finished() {},
    remove() {},
  } as unknown as WorkStore;
  const link = {
    ackJobs: (ids: readonly string[]) => acks.push(...ids),
    result: (r: JobResult) => results.push(r),
    send() {},
  } as unknown as ProxyLink;
  const executor = {
    accepts: () => true,
    enqueue() {},
    cancel: () => 'queued',
  } as unknown as Executor;
  const a = new NodeAssignments(store, link, executor, 'n1', silentLogger());
  const commit = () => commits.splice(0).forEach((c) => c());
  return { a, acks, results, commit };
}

const wire = (): WireJob => ({ id: newTicket(), spec: echo, origin: 'o', submittedAt: 1 });

t.test('a job that ended before its commit is reported by its result alone', (t) => {
  const { a, acks, results, commit } = node();
  const quick = wire();
  const slow = wire();
  a.dispatched([quick, slow]);
  a.onStarted(quick.id, 10);
  a.onStarted(slow.id, 10);
  a.onFinished(quick.id, { state: 'done', exitCode: 0, output: 'x', error: null }, 10, 10);
  t.same(
    results.map((r) => r.id),
    [quick.id],
    'the result leaves at once',
  );
  t.ok(a.hasStarted());
  t.same(a.takeStarted(), [{ id: slow.id, at: 10 }], 'the INFO tells only the start still running');
  commit();
  t.same(acks, [slow.id], 'only the job without a result is acknowledged');
  t.end();
});

t.test('a job that ends after its commit is acknowledged and its start told', (t) => {
  const { a, acks, commit } = node();
  const job = wire();
  a.dispatched([job]);
  a.onStarted(job.id, 10);
  commit();
  t.same(acks, [job.id]);
  t.same(a.takeStarted(), [{ id: job.id, at: 10 }]);
  a.onFinished(job.id, { state: 'done', exitCode: 0, output: 'x', error: null }, 10, 12);
  t.notOk(a.hasStarted());
  t.end();
});

function proxy() {
  const members = new Membership();
  const send = (_f: FrameIn) => {};
  const n = members.attach('n1', 4, { out: new FrameBatcher(send), send, close() {} });
  const deps = { members } as unknown as AssignmentsDeps;
  const opts = { prefetch: 0, dispatchPeriod: 0, maxJobsPerDispatch: 1000 };
  const assignments = new Assignments(() => createPolicy('least-loaded'), opts, deps);
  const given = (sentAt: number, placed = false): Job => {
    const job = newJob({ id: newTicket(), spec: echo, origin: 'o', submittedAt: 1, seq: 1 });
    Object.assign(job, { state: 'assigned', node: 'n1', placed, sentAt });
    return job;
  };
  const result = (job: Job, startedAt: number, finishedAt: number): JobResult => ({
    id: job.id,
    state: 'done',
    exitCode: 0,
    output: 'x',
    error: null,
    node: 'n1',
    attempt: 1,
    startedAt,
    finishedAt,
  });
  return { n, assignments, given, result };
}

t.test('the proxy takes the round trip from a result that came before any ACK', (t) => {
  const { n, assignments, given, result } = proxy();
  const job = given(1000);
  // sent at 1000, ran 30 ms on the node, reported at 1042: 12 ms of round trip
  assignments.noteReported(n, job, result(job, 500, 530), 1042);
  t.equal(n.pace.roundTripMs, 12);
  t.end();
});

t.test('a result after the ACK, or of a job never sent, says nothing of the round trip', (t) => {
  const { n, assignments, given, result } = proxy();
  const acked = given(1000, true);
  assignments.noteReported(n, acked, result(acked, 500, 500), 1042);
  const recovered = given(0); // known from a HELLO after a restart: its dispatch time is unknown
  assignments.noteReported(n, recovered, result(recovered, 500, 500), 1042);
  const never = given(1000);
  assignments.noteReported(n, never, { ...result(never, 0, 0), startedAt: null }, 1042);
  t.ok(Number.isNaN(n.pace.roundTripMs));
  t.end();
});
