import t from 'tap';
import { LineClient, startCluster, until } from './helpers/cluster.js';
import { jobView, submitSpec } from './helpers/line-jobs.js';

interface View {
  state: string;
  attempts: number;
  runs?: unknown[];
  progress?: { done: number; failed: number };
}

const submit = submitSpec;
const view = (c: LineClient, verb: 'RESULT' | 'WAIT', ticket: string) =>
  jobView<View>(c, verb, ticket);

// a task that always fails: it outlives its timeout
const failing = { type: 'sleep', args: [5000], timeoutMs: 50 };

t.test("a job of tasks' attempts: the most runs one of its tasks took", async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);

  const job = await submit(c, { tasks: [{ type: 'echo', args: ['a'] }, failing] });
  const first = await view(c, 'WAIT', job);
  t.match(first, { state: 'failed', attempts: 1, progress: { done: 1, failed: 1 } });
  t.equal(await c.ask(`RETRY ${job}`), 'OK queued');
  const second = await view(c, 'WAIT', job);
  t.match(second, { state: 'failed', progress: { done: 1, failed: 1 } });
  t.equal(second.attempts, 2, 'its failed task ran twice');
  t.equal(second.runs, undefined, 'the job lists no runs of its own (its tasks ran)');
  t.equal((await view(c, 'RESULT', job)).attempts, 2, 'RESULT says so too');

  const retried = await submit(c, {
    tasks: [{ type: 'echo', args: ['b'] }, failing],
    retry: { attempts: 3, backoffMs: 10 },
  });
  t.equal((await view(c, 'WAIT', retried)).attempts, 3, "the job's retry ran the task 3 times");

  const slow = await submit(c, { tasks: [{ type: 'sleep', args: [60_000] }] });
  await until(async () => (await view(c, 'RESULT', slow)).state === 'running');
  t.match(
    await view(c, 'RESULT', slow),
    { state: 'running', attempts: 1 },
    'running: its task is on its first run',
  );
  t.equal(await c.ask(`CANCEL ${slow}`), 'OK cancelled');
});
