import t from 'tap';
import { newTicket } from '../shared/ids.js';
import type { JobResult } from '../shared/job-view.js';
import { silentLogger } from '../shared/log.js';
import type { FrameIn, WireJob } from '../shared/protocol.js';
import { Assignments } from '../node/assignments.js';
import type { Executor } from '../node/executor.js';
import type { RunOutcome } from '../node/job-runner.js';
import type { ProxyLink } from '../node/proxy-link.js';
import type { WorkStore } from '../node/work-store.js';

/**
 * A cancel then a RETRY: the proxy may give the job's next run to the node still stopping the
 * cancelled one. That run starts as soon as the cancelled one ends (before, the node took the
 * dispatch for a resend, acked it and ran nothing until the proxy's sweep noticed).
 */

const spec = { type: 'exec', args: ['sleep', '30'], priority: 0, maxAttempts: 3 };
const cancelled: RunOutcome = { state: 'cancelled', exitCode: null, output: '', error: 'x' };

function node() {
  const commits: Array<() => void> = [];
  const acks: string[] = [];
  const results: JobResult[] = [];
  const sent: FrameIn[] = [];
  const enqueued: Array<[string, number]> = [];
  const store = {
    insert: (_w: unknown, cb: (err: Error | null) => void) => commits.push(() => cb(null)),
    finished() {},
    remove() {},
  } as unknown as WorkStore;
  const link = {
    ackJobs: (ids: readonly string[]) => acks.push(...ids),
    result: (r: JobResult) => results.push(r),
    send: (f: FrameIn) => sent.push(f),
  } as unknown as ProxyLink;
  const executor = {
    accepts: () => true,
    enqueue: (id: string, _s: unknown, attempt: number) => enqueued.push([id, attempt]),
    cancel: () => 'running', // being stopped: its end comes later
  } as unknown as Executor;
  const a = new Assignments(store, link, executor, 'n1', silentLogger());
  const commit = () => commits.splice(0).forEach((c) => c());
  return { a, acks, results, sent, enqueued, commit };
}

const wire = (id: string, attempt: number): WireJob => ({
  id,
  spec,
  origin: 'o',
  submittedAt: 1,
  attempt,
});

t.test('a rerun given while its cancelled run stops starts when that run ends', async (t) => {
  const { a, acks, results, enqueued, commit } = node();
  const id = newTicket();
  a.dispatched([wire(id, 1)]);
  commit();
  a.onStarted(id, 10);
  a.cancel(id); // the proxy ended the job; its process is being killed
  a.dispatched([wire(id, 2)]); // a RETRY placed the next run here at once
  commit();
  t.same(acks, [id], 'only the first dispatch is acknowledged so far');
  t.same(enqueued, [[id, 1]], 'the rerun does not start beside its stopping run');

  a.onFinished(id, cancelled, 10, 20);
  t.same(
    results.map((r) => [r.attempt, r.state]),
    [[1, 'cancelled']],
    'the stopped run is reported',
  );
  await Promise.resolve();
  t.same(
    enqueued,
    [
      [id, 1],
      [id, 2],
    ],
    'then the rerun starts',
  );
  commit();
  t.same(acks, [id, id], 'and is acknowledged once committed');
  a.onFinished(id, { state: 'done', exitCode: 0, output: 'ok', error: null }, 30, 40);
  t.same(results.at(-1), { ...results.at(-1), attempt: 2, state: 'done' }, 'its own result');
});

t.test('a stopping run lost (its worker left) gives way to the rerun, unreported', async (t) => {
  const { a, sent, enqueued, commit } = node();
  const id = newTicket();
  a.dispatched([wire(id, 1)]);
  commit();
  a.onStarted(id, 10);
  a.cancel(id);
  a.dispatched([wire(id, 2)]);
  a.lost(id, true, 'its worker disconnected');
  t.same(sent, [], 'no "lost" report: the proxy would take it for the rerun');
  await Promise.resolve();
  t.same(
    enqueued,
    [
      [id, 1],
      [id, 2],
    ],
    'the rerun starts',
  );
});

t.test('a rerun parked behind a run is forgotten when the proxy takes the job away', async (t) => {
  const { a, enqueued, commit } = node();
  const id = newTicket();
  a.dispatched([wire(id, 1)]);
  commit();
  a.cancel(id);
  a.dispatched([wire(id, 2)]);
  a.handBack([id]);
  a.onFinished(id, cancelled, 10, 20);
  await Promise.resolve();
  t.same(enqueued, [[id, 1]], 'nothing more runs');
});
