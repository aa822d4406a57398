import t from 'tap';
import type { Committer } from '../shared/db.js';
import { freePort, serveNodeHttp, startNode } from './helpers/cluster.js';

/**
 * A node's /readyz says whether clients should send it new jobs: yes while it is not joined
 * (it still issues tickets), no while its disk is full or it is stopping. Its body says why.
 */

async function readyz(base: string) {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

t.test("a node's readiness: taking new jobs, joined or not", async (t) => {
  // no proxy listens on this port: the node never joins
  const node = await startNode(t.teardown, await freePort(), { NODE_ID: 'lonely' });
  const base = await serveNodeHttp(t.teardown, node);
  const alone = await readyz(base);
  t.equal(alone.status, 200, 'ready without a proxy');
  t.match(alone.body, { ready: true, proxyConnected: false, diskFull: false, draining: false });
  t.notOk('reason' in alone.body);

  const committer = (node as unknown as { committer: Committer }).committer;
  committer.full = true;
  const full = await readyz(base);
  t.equal(full.status, 503, 'not ready while its disk is full');
  t.match(full.body, { ready: false, reason: 'the disk is full', diskFull: true });
  const metrics = await (await fetch(`${base}/metrics`)).text();
  t.match(metrics, /^petrel_node_disk_full\{node="lonely"\} 1$/m, 'and says so in its metrics');
  committer.full = false;
  t.equal((await readyz(base)).status, 200, 'ready again once space is back');

  const stopping = node.close();
  const draining = await readyz(base);
  t.equal(draining.status, 503, 'not ready while stopping');
  t.match(draining.body, { ready: false, reason: 'stopping', draining: true });
  await stopping;
});
