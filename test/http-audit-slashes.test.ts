import t from 'tap';
import { serveNodeHttp, startCluster } from './helpers/cluster.js';

t.test('a path that starts with two slashes is named as sent, not read as a host', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  // a client whose base URL ends in a slash, joined with `/v1/jobs`
  const res = await fetch(`${base}//v1/jobs`);
  t.equal(res.status, 404);
  t.same(await res.json(), {
    error: { code: 'NOT_FOUND', message: 'no such path: //v1/jobs' },
  });
  const ok = await fetch(`${base}/v1/jobs`);
  t.equal(ok.status, 200);
});
