import t from 'tap';
import { serveNodeHttp, startCluster } from './helpers/cluster.js';

type Json = Record<string, unknown>;

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

t.test('the OpenAPI bounds of `task` are those the server keeps', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const doc = JSON.parse((await get(`${base}/v1/openapi.json`)).text) as {
    paths: Record<
      string,
      { get: { parameters: Array<{ name: string; schema: { maximum?: number } }> } }
    >;
  };
  const task = doc.paths['/v1/jobs/{ticket}/logs']!.get.parameters.find((p) => p.name === 'task');
  const max = task?.schema.maximum;
  t.type(max, 'number', 'the document bounds task');
  const ticket = '0'.repeat(26);
  const at = await get(`${base}/v1/jobs/${ticket}/logs?task=${max}`);
  t.equal(at.status, 404, 'the documented maximum is taken (the ticket is unknown)');
  const past = await get(`${base}/v1/jobs/${ticket}/logs?task=${(max ?? 0) + 1}`);
  t.equal(past.status, 400, 'one past it is refused');
});

t.test('the OpenAPI pattern of {ticket} is what the server takes', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const doc = JSON.parse((await get(`${base}/v1/openapi.json`)).text) as {
    paths: Record<string, { get: { parameters: Array<{ name: string; schema: Json }> } }>;
  };
  const param = doc.paths['/v1/jobs/{ticket}']!.get.parameters.find((p) => p.name === 'ticket');
  const pattern = new RegExp(String(param?.schema.pattern), 'u');
  const samples = [
    '0'.repeat(26),
    'o'.repeat(26),
    'abcdefghijklmnopqrstvwxyz0',
    ` ${'0'.repeat(26)} `,
    'u'.repeat(26),
    '0'.repeat(25),
    '0'.repeat(27),
    `\u017f${'0'.repeat(25)}`,
    `\u0131${'0'.repeat(25)}`,
  ];
  for (const sample of samples) {
    const res = await get(`${base}/v1/jobs/${encodeURIComponent(sample)}`);
    const documented = pattern.test(sample);
    // an unknown ticket the server reads is NOT_FOUND, one it cannot read BAD_REQUEST
    t.equal(res.status, documented ? 404 : 400, `${JSON.stringify(sample)}: ${res.text}`);
  }
});
