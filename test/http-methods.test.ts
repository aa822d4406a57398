import t, { type Test } from 'tap';
import { serveNodeHttp, startCluster } from './helpers/cluster.js';

async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

/** A 405 that names what is allowed, in the API's error shape. */
async function notAllowed(t: Test, url: string, method: string, allow: string[]) {
  const r = await call(url, { method });
  t.equal(r.status, 405, `${method} ${url}: 405`);
  t.same(r.headers.get('allow')?.split(', ').sort(), [...allow].sort(), `${method}: Allow`);
  t.match(JSON.parse(r.text), {
    error: { code: 'BAD_REQUEST', message: new RegExp(`^${method} is not allowed`) },
  });
}

/** A 404 in the API's error shape. */
async function notFound(t: Test, url: string, method = 'GET') {
  const r = await call(url, { method });
  t.equal(r.status, 404, `${method} ${url}: 404`);
  t.match(JSON.parse(r.text), { error: { code: 'NOT_FOUND', message: /\S/ } }, url);
}

/** HEAD answers as GET does, without a body. */
async function headLikeGet(t: Test, url: string) {
  const get = await call(url);
  const head = await call(url, { method: 'HEAD' });
  t.equal(head.status, get.status, `HEAD ${url}: as GET`);
  t.equal(head.headers.get('content-type'), get.headers.get('content-type'));
  t.equal(head.text, '', `HEAD ${url}: no body`);
}

t.test("a node's wrong methods, HEAD and unknown paths", async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const ticket = '0'.repeat(26);

  await notAllowed(t, `${base}/v1/jobs/${ticket}`, 'DELETE', ['GET', 'HEAD']);
  await notAllowed(t, `${base}/v1/jobs`, 'PUT', ['GET', 'HEAD', 'POST']);
  await notAllowed(t, `${base}/v1/jobs/${ticket}/cancel`, 'GET', ['POST']);
  await notAllowed(t, `${base}/v1/openapi.json`, 'POST', ['GET', 'HEAD']);
  await notAllowed(t, `${base}/healthz`, 'POST', ['GET', 'HEAD']);
  await notAllowed(t, `${base}/metrics`, 'DELETE', ['GET', 'HEAD']);

  const submitted = await call(`${base}/v1/jobs`, {
    method: 'POST',
    body: JSON.stringify({ type: 'sleep', args: ['60000'] }),
  });
  const running = (JSON.parse(submitted.text) as { ticket: string }).ticket;
  for (const path of ['/v1/jobs', `/v1/jobs/${running}`, `/v1/jobs/${ticket}`, '/healthz']) {
    await headLikeGet(t, base + path);
  }
  await headLikeGet(t, `${base}/v1/openapi.json`);
  await headLikeGet(t, `${base}/v1/jobs/${running}/logs`);
  const follow = await call(`${base}/v1/jobs/${running}/logs?follow=1`, { method: 'HEAD' });
  t.equal(follow.status, 200, 'HEAD of a followed log answers at once, not when the job ends');
  t.equal(follow.text, '');

  await notFound(t, `${base}/`);
  await notFound(t, `${base}/nothing`, 'POST');
  await notFound(t, `${base}/v1/nothing`);
  t.equal((await call(`${base}/healthz`)).status, 200);
});

t.test("a proxy's wrong methods, HEAD and unknown paths", async (t) => {
  const { proxy } = await startCluster(t.teardown, 1);
  const base = `http://127.0.0.1:${proxy.port}`;
  await notAllowed(t, `${base}/metrics`, 'POST', ['GET', 'HEAD']);
  await notAllowed(t, `${base}/readyz`, 'PUT', ['GET', 'HEAD']);
  await notAllowed(t, `${base}/api/cluster`, 'POST', ['GET', 'HEAD']);
  await notAllowed(t, `${base}/api/jobs/${'0'.repeat(26)}/retry`, 'GET', ['POST']);
  await notFound(t, `${base}/nothing`);
  await notFound(t, `${base}/api/nothing`);
  await headLikeGet(t, `${base}/api/cluster`);
  await headLikeGet(t, `${base}/healthz`);
});
