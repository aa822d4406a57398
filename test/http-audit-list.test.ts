import t from 'tap';
import { serveNodeHttp, startCluster } from './helpers/cluster.js';

t.test('GET /v1/jobs?state=failed lists a failed job however many came after it', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { EXEC_ALLOW: 'sh' } });
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const submit = async (spec: unknown) => {
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: JSON.stringify(spec) });
    return ((await res.json()) as { ticket: string }).ticket;
  };
  const failed = await submit({ type: 'exec', args: ['sh', '-c', 'exit 3'] });
  await fetch(`${base}/v1/jobs/${failed}?wait=20000`);
  // more jobs after it than a list may hold
  for (let i = 0; i < 1010; i += 50) {
    await Promise.all(Array.from({ length: 50 }, () => submit({ type: 'echo', args: ['x'] })));
  }

  const res = await fetch(`${base}/v1/jobs?state=failed`);
  t.equal(res.status, 200);
  const { jobs } = (await res.json()) as { jobs: Array<{ ticket: string; state: string }> };
  t.same(
    jobs.map((j) => [j.ticket, j.state]),
    [[failed, 'failed']],
  );
});
