import { join } from 'node:path';
import t from 'tap';
import { LineClient, startCluster, tempDir } from './helpers/cluster.js';

interface Run {
  node?: string;
  attempt?: number;
  exitCode?: number;
  error?: string;
  startedAt?: string;
  finishedAt?: string;
}
interface View {
  state: string;
  attempts: number;
  exitCode?: number;
  error?: string;
  runs?: Run[];
}

const nodeEnv = { EXEC_ALLOW: 'sh' };

async function submit(c: LineClient, spec: unknown): Promise<string> {
  const r = await c.ask(`SUBMIT ${JSON.stringify(spec)}`);
  if (!r.startsWith('OK ')) throw new Error(r);
  return r.slice(3);
}

async function waitView(c: LineClient, ticket: string): Promise<View> {
  const r = await c.ask(`WAIT ${ticket} 30000`, 35_000);
  if (!r.startsWith('OK ')) throw new Error(r);
  return JSON.parse(r.slice(3)) as View;
}

t.test('a failing run is retried with growing waits, on any node, then fails', async (t) => {
  const { nodes } = await startCluster(t.teardown, 3, { nodeEnv });
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const backoffMs = 200;
  const ticket = await submit(c, {
    type: 'exec',
    args: ['sh', '-c', 'exit 3'],
    retry: { attempts: 4, backoffMs },
  });
  const v = await waitView(c, ticket);
  t.equal(v.state, 'failed');
  t.equal(v.exitCode, 3);
  t.equal(v.attempts, 4);
  const runs = v.runs ?? [];
  t.equal(runs.length, 4, 'four runs listed');
  t.same(
    runs.map((r) => [r.attempt, r.exitCode]),
    [
      [1, 3],
      [2, 3],
      [3, 3],
      [4, 3],
    ],
  );
  const gaps: number[] = [];
  for (let i = 1; i < runs.length; i++) {
    gaps.push(Date.parse(runs[i]!.startedAt!) - Date.parse(runs[i - 1]!.finishedAt!));
  }
  t.comment(`retry gaps (ms): ${gaps.join(', ')} (nominal 200, 400, 800 ±20%)`);
  // the proxy never gives a retry back before its wait is over (the lower bound of its jitter)
  gaps.forEach((g, i) => t.ok(g >= 0.8 * backoffMs * 2 ** i, `gap ${i + 1} waited its backoff`));
  // RESULT from another node says the same
  const o = await LineClient.connect(nodes[2]!.clientPort, t.teardown);
  t.same(JSON.parse((await o.ask(`RESULT ${ticket}`)).slice(3)), v);
});

t.test('a job succeeding on its third run ends done with attempts 3', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2, { nodeEnv });
  const c = await LineClient.connect(nodes[1]!.clientPort, t.teardown);
  const counter = join(tempDir(t.teardown), 'runs');
  const script = `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; echo run $n; [ $n -ge 3 ]`;
  const ticket = await submit(c, {
    type: 'exec',
    args: ['sh', '-c', script],
    retry: { attempts: 5, backoffMs: 20 },
  });
  const v = await waitView(c, ticket);
  t.equal(v.state, 'done');
  t.equal(v.attempts, 3);
  t.same(
    v.runs?.map((r) => r.exitCode),
    [1, 1, 0],
  );
  t.match(JSON.stringify(v), /run 3/);
});

t.test(
  'maxAttempts still counts lost runs only: a failing job without retry runs once',
  async (t) => {
    const { nodes } = await startCluster(t.teardown, 1, { nodeEnv });
    const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
    const ticket = await submit(c, { type: 'exec', args: ['sh', '-c', 'exit 2'], maxAttempts: 5 });
    const v = await waitView(c, ticket);
    t.equal(v.state, 'failed');
    t.equal(v.attempts, 1);
    t.equal(v.runs?.length, 1);
  },
);

t.test('dead letters: LIST failed, GET /api/jobs?state=failed, RETRY from any node', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2, { nodeEnv });
  const a = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const b = await LineClient.connect(nodes[1]!.clientPort, t.teardown);
  const failed = await submit(a, { type: 'exec', args: ['sh', '-c', 'exit 4'] });
  const done = await submit(a, { type: 'echo', args: ['fine'] });
  await waitView(a, failed);
  await waitView(a, done);

  a.write('LIST failed\n');
  t.equal(await a.next(), 'OK 1');
  t.equal(await a.next(), `${failed} failed`);
  t.match(await a.ask('LIST lost'), /^ERR BAD_REQUEST/);

  const res = await fetch(`http://127.0.0.1:${proxy.port}/api/jobs?state=failed`);
  const body = (await res.json()) as { jobs: Array<{ ticket: string; state: string }> };
  t.same(
    body.jobs.map((j) => [j.ticket, j.state]),
    [[failed, 'failed']],
  );
  const bad = await fetch(`http://127.0.0.1:${proxy.port}/api/jobs?limit=0`);
  t.equal(bad.status, 400);

  t.match(await b.ask(`RETRY ${done}`), /^ERR BAD_REQUEST .*done/, 'a done job is not run again');
  t.equal(await b.ask(`RETRY ${failed}`), 'OK queued', 'another node runs it again');
  const again = await waitView(a, failed); // the origin waits for the new result
  t.equal(again.state, 'failed');
  t.equal(again.runs?.length, 2, 'both runs listed, under the same ticket');
  t.equal(again.attempts, 2);
  t.match(await a.ask(`RETRY 0000000000000000000000000Z`), /^ERR NOT_FOUND/);
});
