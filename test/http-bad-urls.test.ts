import t, { type Test } from 'tap';
import { freePort, spawnNode, spawnProxy, tempDir, type Proc } from './helpers/cluster.js';
import { rawRequest } from './helpers/raw-http.js';

/** Asserts a 400 with the API's error shape, and that the process lives on and is healthy. */
async function refusedAndAlive(
  t: Test,
  proc: Proc,
  port: number,
  target: string,
  headers: Record<string, string> = {},
) {
  const r = await rawRequest(port, 'GET', target, headers);
  t.equal(r.status, 400, `${target}: 400`);
  t.match(JSON.parse(r.body), { error: { code: 'BAD_REQUEST', message: /\w/ } }, target);
  t.equal(proc.child.exitCode, null, `${target}: the process is alive`);
  t.equal((await rawRequest(port, 'GET', '/healthz')).status, 200, `${target}: still healthy`);
}

t.test('a node survives malformed request targets, before and after the token check', async (t) => {
  const { port: proxyPort } = await spawnProxy(t.teardown, tempDir(t.teardown));
  const httpPort = await freePort();
  const { proc } = await spawnNode(t.teardown, proxyPort, tempDir(t.teardown), {
    HTTP_PORT: String(httpPort),
    CLIENT_TOKEN: 'tok',
  });
  await proc.waitFor(`HTTP API on http://127.0.0.1:${httpPort}/v1`);
  const bearer = { Authorization: 'Bearer tok' };
  for (const target of ['/v1/jobs/%ZZ', '/v1/jobs/%ZZ/logs', '/v1/jobs/%E0%A4%A/cancel']) {
    const method = target.endsWith('cancel') ? 'POST' : 'GET';
    const r = await rawRequest(httpPort, method, target, bearer);
    t.equal(r.status, 400, `${target}: 400`);
    t.match(JSON.parse(r.body), { error: { code: 'BAD_REQUEST', message: /percent-encoding/ } });
  }
  for (const target of ['http://[zz/v1/jobs', 'http://[zz/healthz']) {
    await refusedAndAlive(t, proc, httpPort, target);
  }
  // a target starting `//` is a path (a base URL ending in `/`), not a host: no such path
  const doubled = await rawRequest(httpPort, 'GET', '//[zz/v1/jobs', bearer);
  t.equal(doubled.status, 404, '//[zz/v1/jobs: a path, not found');
  t.match(JSON.parse(doubled.body), {
    error: { code: 'NOT_FOUND', message: /\/\/\[zz\/v1\/jobs/ },
  });
  await refusedAndAlive(t, proc, httpPort, 'http://[zz/v1/jobs', bearer);
  const absolute = await rawRequest(httpPort, 'GET', 'http://localhost/v1/openapi.json');
  t.equal(absolute.status, 200, 'a valid absolute-form target is served');
});

t.test('a proxy survives malformed request targets', async (t) => {
  const { proc, port } = await spawnProxy(t.teardown, tempDir(t.teardown), {
    DASHBOARD_TOKEN: 'dash',
  });
  for (const target of ['http://[zz/api/cluster', 'http://[zz/healthz']) {
    await refusedAndAlive(t, proc, port, target);
  }
  const doubled = await rawRequest(port, 'GET', '//[zz/api/jobs', { Authorization: 'Bearer dash' });
  t.equal(doubled.status, 404, '//[zz/api/jobs: a path, not found');
  const bad = await rawRequest(port, 'GET', '/api/jobs/%ZZ', { Authorization: 'Bearer dash' });
  t.equal(bad.status, 400);
  t.match(JSON.parse(bad.body), { error: { code: 'BAD_REQUEST', message: /percent-encoding/ } });
  t.equal((await rawRequest(port, 'GET', 'http://localhost/api/cluster')).status, 200);
});
