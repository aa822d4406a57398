import t from 'tap';
import { serveNodeHttp, startCluster } from './helpers/cluster.js';

t.test("the dashboard reads a task's log from the node that ran it", async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 1, { nodeEnv: { EXEC_ALLOW: 'sh' } });
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const spec = {
    tasks: [0, 1].map((i) => ({ type: 'exec', args: ['sh', '-c', `echo task ${i}`] })),
  };
  const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: JSON.stringify(spec) });
  const { ticket } = (await res.json()) as { ticket: string };
  const done = (await (await fetch(`${base}/v1/jobs/${ticket}?wait=20000`)).json()) as {
    state: string;
  };
  t.equal(done.state, 'done');

  const log = await fetch(`http://127.0.0.1:${proxy.port}/api/jobs/${ticket}/logs?task=1`);
  t.equal(log.status, 200);
  t.match(await log.json(), { node: 'n1', source: 'log', text: 'task 1\n', live: false });
});
