import t, { type Test } from 'tap';
import { LineClient, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';
import { fakeResult, RawNode, type Json } from './helpers/fuzz.js';

/**
 * A proxy that never saw a job (a group's new leader, or a proxy on a new file) learns of it
 * from an executor's holds: its last result, which the proxy before never acknowledged. Were
 * that a failure its retry allows, the new proxy, which knows none of the job's earlier runs,
 * would run it again and end it otherwise than its origin's clients already saw. The origin
 * tells a new proxy the results it received lately, and those stand. Found by
 * `npm run chaos -- --mix system --group`.
 */

const failure = (id: string, attempt: number): Json =>
  fakeResult(id, 'e', { state: 'failed', exitCode: 3, output: '', error: 'exit code 3', attempt });

const dispatches = (n: RawNode, id: string): Json[] =>
  n.frames
    .filter((f) => f.type === 'JOB')
    .flatMap((f) => f.jobs as Json[])
    .filter((j) => j.id === id);

/** The raw executor sends no heartbeats: the proxy must not take it for dead within the test. */
const QUIET_NODES_LIVE = { NODE_TIMEOUT: '60000', PHI_THRESHOLD: '0' };

/** The raw executor `e`, with the label the job needs. */
const executor = (teardown: (fn: () => unknown) => void, port: number, extra: Json = {}) =>
  RawNode.joined(teardown, port, 'e', { labels: ['x'], ...extra });

for (const restarted of [false, true]) {
  const name = restarted
    ? 'likewise when the origin restarted in between (it reads them from its file)'
    : 'a new proxy takes the result the origin saw over an executor’s unacked one';
  t.test(name, async (t) => scenario(t, restarted));
}

async function scenario(t: Test, restarted: boolean): Promise<void> {
  const first = await spawnProxy(t.teardown, tempDir(t.teardown), QUIET_NODES_LIVE);
  const e = await executor(t.teardown, first.port);
  const nodeDir = tempDir(t.teardown);
  const node = await spawnNode(t.teardown, first.port, nodeDir);
  let c = await LineClient.connect(node.port, t.teardown);
  const spec = {
    type: 'echo',
    args: ['x'],
    constraints: { labels: ['x'] },
    retry: { attempts: 2, backoffMs: 50 },
  };
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify(spec)}`)).slice(3);

  // two failed runs on e: the job fails, and its origin's client sees it
  for (const attempt of [1, 2]) {
    await e.wait(() => dispatches(e, ticket)[attempt - 1], 10_000, `dispatch ${attempt}`);
    e.send({ type: 'RESULT', results: [failure(ticket, attempt)] });
  }
  const seen = JSON.parse((await c.ask(`WAIT ${ticket} 10000`)).slice(3)) as Json;
  t.match(seen, { state: 'failed', attempts: 2 }, 'the client saw it fail after two runs');

  // the proxy is replaced by one on a new file; the origin rejoins it first
  await first.proc.kill('SIGKILL');
  e.terminate();
  if (restarted) await node.proc.kill('SIGKILL');
  const second = await spawnProxy(t.teardown, tempDir(t.teardown), QUIET_NODES_LIVE, first.port);
  if (restarted) {
    const again = await spawnNode(t.teardown, first.port, nodeDir);
    c = await LineClient.connect(again.port, t.teardown);
  }
  const api = async (path: string) =>
    (await (await fetch(`http://127.0.0.1:${second.port}${path}`)).json()) as Json;
  const origin = await until(
    async () => ((await api('/api/cluster')).nodes as Json[]).find((n) => n.connected),
    20_000,
    'the origin to rejoin',
  );
  // e comes back holding its last result, which the first proxy's ACK never reached
  const job = { spec, origin: origin.id, submittedAt: Date.parse(seen.submittedAt as string) };
  const back = await executor(t.teardown, second.port, {
    holds: [{ id: ticket, state: 'finished', attempt: 2, job }],
  });
  back.send({ type: 'RESULT', results: [failure(ticket, 2)] });

  const view = await until(
    async () => {
      const v = await api(`/api/jobs/${ticket}`);
      return v.state === 'failed' ? v : undefined;
    },
    10_000,
    'the new proxy to hold the job failed',
  );
  t.same(
    { state: view.state, runs: view.runs, finishedAt: view.finishedAt },
    { state: seen.state, runs: seen.runs, finishedAt: seen.finishedAt },
    'as its origin’s client saw it',
  );
  await new Promise((r) => setTimeout(r, 300)); // a retry would come after its 50 ms backoff
  t.same(dispatches(back, ticket), [], 'not run again');
  const other = JSON.parse((await c.ask(`RESULT ${ticket}`)).slice(3)) as Json;
  t.same(other, seen, 'its origin still says the same');
}
