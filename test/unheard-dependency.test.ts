import t from 'tap';
import { newTicket } from '../shared/ids.js';
import { startProxy } from './helpers/cluster.js';
import { fakeResult, RawNode, type Json } from './helpers/fuzz.js';

/**
 * A new leader of a group (or a proxy on a new file) hears of the open jobs again as their
 * origins send them, in whatever order the origins reach it. A blocked job may come before the
 * job it waits for: that one is not expired, only not here yet, and the blocked job must wait
 * for it, not run. Found by `npm run chaos -- --mix system --group`.
 */

/** Raw nodes send no heartbeats: the proxy must not take them for dead within the test. */
const QUIET_NODES_LIVE = { NODE_TIMEOUT: '60000', PHI_THRESHOLD: '0' };

const dispatched = (n: RawNode): string[] =>
  n.frames
    .filter((f) => f.type === 'JOB')
    .flatMap((f) => (f.jobs as Json[]).map((j) => j.id as string));

t.test('a job sent before the job it waits for waits for it', async (t) => {
  const proxy = await startProxy(t.teardown, QUIET_NODES_LIVE);
  const origin = await RawNode.joined(t.teardown, proxy.port, 'a');
  const e = await RawNode.joined(t.teardown, proxy.port, 'e', { labels: ['x'] });
  const constraints = { labels: ['x'] };
  const first = newTicket();
  const second = newTicket();
  const job = (id: string, spec: Json) => ({ id, spec, origin: 'a', submittedAt: Date.now() });

  // the origin sends the blocked job first, as after a takeover
  origin.send({
    type: 'JOB',
    jobs: [job(second, { type: 'echo', args: ['2'], after: [first], constraints })],
  });
  await new Promise((r) => setTimeout(r, 500));
  t.same(dispatched(e), [], 'not run while the job it waits for is unheard of');

  origin.send({ type: 'JOB', jobs: [job(first, { type: 'echo', args: ['1'], constraints })] });
  await e.wait(() => dispatched(e).includes(first), 10_000, 'the first job');
  t.same(dispatched(e), [first], 'the job waited for runs, and only it');
  e.send({ type: 'RESULT', results: [fakeResult(first, 'e', { output: '1' })] });
  await e.wait(() => dispatched(e).includes(second), 10_000, 'the second job');
  t.same(dispatched(e), [first, second], 'then the job waiting for it');
});

t.test('a dependency never heard of is taken as expired after the grace', async (t) => {
  const proxy = await startProxy(t.teardown, QUIET_NODES_LIVE);
  const origin = await RawNode.joined(t.teardown, proxy.port, 'a');
  const e = await RawNode.joined(t.teardown, proxy.port, 'e', { labels: ['x'] });
  const id = newTicket();
  const spec = { type: 'echo', args: ['x'], after: [newTicket()], constraints: { labels: ['x'] } };
  origin.send({ type: 'JOB', jobs: [{ id, spec, origin: 'a', submittedAt: Date.now() }] });
  const started = Date.now();
  await e.wait(() => dispatched(e).includes(id), 15_000, 'the job');
  t.ok(Date.now() - started >= 4000, 'it ran once the grace was over, as before');
});
