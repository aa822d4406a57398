import t from 'tap';
import { LineClient, serveNodeHttp, startCluster, until } from './helpers/cluster.js';

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

t.test('GET /v1/jobs?state=running lists a running job however many came after it', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { EXEC_ALLOW: 'sh' } });
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const submit = async (spec: unknown) => {
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: JSON.stringify(spec) });
    return ((await res.json()) as { ticket: string }).ticket;
  };
  const listed = async (query: string) => {
    const res = await fetch(`${base}/v1/jobs?${query}`);
    t.equal(res.status, 200, query);
    const { jobs } = (await res.json()) as { jobs: Array<{ ticket: string; state: string }> };
    return jobs;
  };
  // both slots busy for the test's length, so every job after them stays queued
  const long = { type: 'exec', args: ['sh', '-c', 'sleep 120'] };
  const running = [await submit(long), await submit(long)];
  await until(async () => (await listed('state=running')).length === 2, 20_000, 'two running');
  for (let i = 0; i < 1010; i += 50) {
    await Promise.all(Array.from({ length: 50 }, () => submit({ type: 'echo', args: ['x'] })));
  }

  const jobs = await listed('state=running');
  t.same(jobs.map((j) => j.ticket).sort(), [...running].sort(), 'both, behind 1010 newer jobs');
  t.ok(jobs.every((j) => j.state === 'running'));
  t.equal((await listed('state=running&limit=1')).length, 1, 'bounded by limit');
  t.equal((await listed('state=queued&limit=1000')).length, 1000, 'as many as limit asks');
  const line = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  t.equal(await line.ask('LIST running'), 'OK 2', 'LIST agrees');
  const rows = [await line.next(), await line.next()];
  t.same(rows.sort(), running.map((id) => `${id} running`).sort());
});
