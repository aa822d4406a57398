import t from 'tap';
import { newTicket } from '../shared/ids.js';
import { startProxy, until } from './helpers/cluster.js';
import { fakeResult, RawNode, type Json } from './helpers/fuzz.js';

/**
 * A node that comes back after a crash may report a run of a job the proxy meanwhile gave to
 * another node. When that report is a failure the job's `retry` allows again, the proxy stops
 * the other node's copy and waits out the backoff. The stopped copy's report (`cancelled`)
 * is not the job's outcome: only a client's cancel ends a job cancelled, and that ends it on
 * the proxy before any node hears of it. Found by `npm run chaos -- --mix system`.
 */

/** The dispatches `n` received of `id`, in order. */
const dispatches = (n: RawNode, id: string): Json[] =>
  n.frames
    .filter((f) => f.type === 'JOB')
    .flatMap((f) => f.jobs as Json[])
    .filter((j) => j.id === id);

const cancelled = (n: RawNode, id: string): boolean =>
  n.frames.some((f) => f.type === 'CANCEL' && (f.ids as string[]).includes(id));

t.test('the report of a copy the proxy stopped for a retry does not end the job', async (t) => {
  const proxy = await startProxy(t.teardown, { NODE_TIMEOUT: '600', PHI_THRESHOLD: '0' });
  const view = async (id: string): Promise<Json> =>
    (await (await fetch(`http://127.0.0.1:${proxy.port}/api/jobs/${id}`)).json()) as Json;
  const labels = { labels: ['x'] };
  const origin = await RawNode.joined(t.teardown, proxy.port, 'o');
  const first = await RawNode.joined(t.teardown, proxy.port, 'n1', labels);

  const id = newTicket();
  const spec = {
    type: 'exec',
    args: ['sh', '-c', 'exit 3'],
    constraints: { labels: ['x'] },
    retry: { attempts: 2, backoffMs: 300 },
  };
  const job = { spec, origin: 'o', submittedAt: Date.now() };
  origin.send({ type: 'JOB', jobs: [{ id, ...job }] });
  await first.wait(() => dispatches(first, id)[0], 10_000, 'the dispatch to n1');
  const firstAttempt = dispatches(first, id)[0]!.attempt as number;
  first.send({ type: 'ACK', jobs: [id], results: [] });

  // n1 crashes with the job; the proxy gives it to n2
  first.terminate();
  const second = await RawNode.joined(t.teardown, proxy.port, 'n2', labels);
  await second.wait(() => dispatches(second, id)[0], 10_000, 'the dispatch to n2');
  const secondAttempt = dispatches(second, id)[0]!.attempt as number;
  second.send({ type: 'ACK', jobs: [id], results: [] });
  second.send({ type: 'INFO', queued: 0, running: 1, free: 0, started: [{ id, at: Date.now() }] });

  // n1 comes back having run its copy, which failed: a run the retry budget allows again
  const failed = fakeResult(id, 'n1', {
    state: 'failed',
    exitCode: 3,
    output: '',
    error: 'exit code 3',
    attempt: firstAttempt,
  });
  const back = await RawNode.joined(t.teardown, proxy.port, 'n1', {
    ...labels,
    holds: [{ id, state: 'finished', attempt: firstAttempt, job }],
  });
  back.send({ type: 'RESULT', results: [failed] });
  await second.wait(() => cancelled(second, id), 10_000, 'the CANCEL of the copy on n2');

  // n2 reports the copy it stopped
  const stopped = fakeResult(id, 'n2', {
    state: 'cancelled',
    exitCode: null,
    output: '',
    error: 'cancelled by a client',
    attempt: secondAttempt,
  });
  second.send({ type: 'RESULT', results: [stopped] });
  await second.wait(
    () => second.frames.some((f) => f.type === 'ACK' && (f.results as string[]).includes(id)),
    10_000,
    'the ACK of the stopped copy’s report',
  );
  t.not((await view(id)).state, 'cancelled', 'the stopped copy did not end the job');

  // the retry runs after its backoff, on a node with the label, and fails: the job has failed
  const retried = await until(
    () =>
      [back, second].find((n) =>
        dispatches(n, id).some((j) => (j.attempt as number) > secondAttempt),
      ),
    10_000,
    'the retry',
  );
  const retry = dispatches(retried, id).at(-1)!;
  const nodeId = retried === back ? 'n1' : 'n2';
  retried.send({
    type: 'RESULT',
    results: [
      fakeResult(id, nodeId, {
        state: 'failed',
        exitCode: 3,
        output: '',
        error: 'exit code 3',
        attempt: retry.attempt,
      }),
    ],
  });
  await until(async () => (await view(id)).state === 'failed', 10_000, 'the job to fail');
  const final = await view(id);
  const runs = (final.runs ?? []) as Json[];
  t.same(
    runs.filter((r) => r.exitCode === 3).map((r) => r.node),
    ['n1', nodeId],
    'two failed runs, as its retry allows',
  );
  t.notOk(
    runs.some((r) => r.error === 'cancelled by a client'),
    'no run says a client cancelled it',
  );
});
