import t from 'tap';
import { serveNodeHttp, startCluster } from './helpers/cluster.js';

async function get(url: string) {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, text };
}

t.test('an empty query parameter, as the docs write the query, means none', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 1);
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const res = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    body: JSON.stringify({ type: 'echo', args: ['empty'] }),
  });
  const { ticket } = (await res.json()) as { ticket: string };
  await get(`${base}/v1/jobs/${ticket}?wait=20000`);

  const list = await get(`${base}/v1/jobs?state=&limit=`);
  t.equal(list.status, 200, list.text);
  t.match(JSON.parse(list.text), { jobs: [{ ticket }] });
  const logs = await get(`${base}/v1/jobs/${ticket}/logs?follow=&task=&stream=`);
  t.equal(logs.status, 200, logs.text);
  t.equal(logs.text, 'empty');

  const api = `http://127.0.0.1:${proxy.port}/api/jobs`;
  const all = await get(`${api}?state=&tenant=&limit=`);
  t.equal(all.status, 200, all.text);
  t.match(JSON.parse(all.text), { jobs: [{ ticket }] });
  t.equal((await get(`${api}?state=bogus`)).status, 400, 'a state that is given is checked');
});
