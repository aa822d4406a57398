import t, { type Test } from 'tap';
import { givenParams } from '../shared/http.js';
import { serveNodeHttp, startNode, startProxy } from './helpers/cluster.js';
import { rawExchange, rawRequest, type RawResponse } from './helpers/raw-http.js';

/** A proxy and a node joined to it (through `/cluster`), with the node's HTTP API served. */
async function servers(t: Test): Promise<{ proxy: number; node: number }> {
  const proxy = await startProxy(t.teardown);
  const node = await startNode(t.teardown, proxy.port);
  const base = await serveNodeHttp(t.teardown, node);
  return { proxy: proxy.port, node: Number(new URL(base).port) };
}

/** `GET target` asking to switch to `protocol`, as a client that would keep the connection. */
function upgradeRequest(port: number, target: string, protocol: string, extra = '') {
  return rawExchange(
    port,
    `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n` +
      `Upgrade: ${protocol}\r\n${extra}\r\n`,
  );
}

const WS_HEADERS = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

/** The JSON error of a response, with its status. */
function assertError(t: Test, r: RawResponse, status: number, code: string, message: RegExp) {
  t.equal(r.status, status, `${status}`);
  t.match(r.headers['content-type'], /^application\/json/, 'JSON');
  t.match(JSON.parse(r.body), { error: { code, message } });
}

t.test(
  'an Upgrade is answered as an ordinary request except a WebSocket at /cluster',
  async (t) => {
    const ports = await servers(t);
    // a WebSocket asked for anywhere but /cluster: the path's own answer, in the API's shape
    const elsewhere = await upgradeRequest(ports.proxy, '/nope', 'websocket', WS_HEADERS);
    assertError(t, elsewhere, 404, 'NOT_FOUND', /no such path: \/nope/);
    t.equal(elsewhere.headers.connection, 'close', 'the connection is closed after it');
    const jobs = await upgradeRequest(ports.proxy, '/api/jobs?state=nope', 'websocket', WS_HEADERS);
    assertError(t, jobs, 400, 'BAD_REQUEST', /state is one of/);
    // a handshake at /cluster that is not one: BAD_REQUEST saying what is missing
    const noKey = await upgradeRequest(ports.proxy, '/cluster', 'websocket');
    assertError(t, noKey, 400, 'BAD_REQUEST', /Sec-WebSocket-Key/);
    // another protocol (curl --http2 asks for h2c): ignored, as RFC 9110 lets a server, on both
    for (const [who, port] of Object.entries(ports)) {
      const r = await upgradeRequest(
        port,
        '/healthz',
        'h2c',
        'HTTP2-Settings: AAMAAABkAAQAoAAA\r\n',
      );
      t.equal(r.status, 200, `${who}: /healthz answered`);
      t.match(JSON.parse(r.body), { status: 'ok' }, `${who}: its body`);
      // what follows such a request on the connection is not read: the server says so and closes
      t.equal(r.headers.connection, 'close', `${who}: Connection: close`);
      const unknown = await upgradeRequest(port, '/nope', 'websocket', WS_HEADERS);
      assertError(t, unknown, 404, 'NOT_FOUND', /\/nope/);
      t.equal(unknown.headers.connection, 'close', `${who}: closed after the 404`);
      t.equal((await rawRequest(port, 'GET', '/healthz')).status, 200, `${who}: still serving`);
    }
  },
);

t.test('a query parameter given twice is refused, naming it', async (t) => {
  const ports = await servers(t);
  const twice = [
    [ports.node, '/v1/jobs?state=failed&state=done', 'state'],
    [ports.node, '/v1/jobs?limit=1&limit=2', 'limit'],
    [ports.node, '/v1/jobs/T0000000000000000000000000?wait=1&wait=2', 'wait'],
    [ports.proxy, '/api/jobs?state=failed&state=done', 'state'],
    [ports.proxy, '/api/jobs?limit=1&limit=2', 'limit'],
    [ports.proxy, '/api/history?since=1&since=2', 'since'],
  ] as const;
  for (const [port, target, name] of twice) {
    const r = await rawRequest(port, 'GET', target);
    t.equal(r.status, 400, `${target}: 400`);
    t.match(
      JSON.parse(r.body),
      { error: { code: 'BAD_REQUEST', message: `parameter '${name}' given twice` } },
      target,
    );
  }
  // an empty value is not given: neither alone nor beside a value
  for (const [port, path] of [
    [ports.node, '/v1/jobs'],
    [ports.proxy, '/api/jobs'],
  ] as const) {
    for (const query of ['?state=&limit=', '?state=&state=failed', '?limit=&limit=5']) {
      const r = await rawRequest(port, 'GET', path + query);
      t.equal(r.status, 200, `${path}${query}: 200`);
      t.match(JSON.parse(r.body), { jobs: [] });
    }
  }
});

t.test('givenParams: empty values are not given; a repeated name is a BAD_REQUEST', async (t) => {
  const given = givenParams(new URLSearchParams('state=&state=failed&limit=&tenant=a'));
  t.same(
    [...given],
    [
      ['state', 'failed'],
      ['tenant', 'a'],
    ],
  );
  t.throws(() => givenParams(new URLSearchParams('a=1&b=2&a=1')), {
    code: 'BAD_REQUEST',
    message: "parameter 'a' given twice",
  });
});

t.test('OPTIONS * is told the methods of the server; another method with * is a 400', async (t) => {
  const ports = await servers(t);
  for (const [who, port] of Object.entries(ports)) {
    const r = await rawRequest(port, 'OPTIONS', '*');
    t.equal(r.status, 200, `${who}: OPTIONS * 200`);
    t.equal(r.headers.allow, 'GET, HEAD, POST, OPTIONS', `${who}: Allow`);
    t.equal(r.headers['content-length'], '0', `${who}: no content`);
    t.equal(r.body, '', `${who}: empty body`);
    for (const method of ['GET', 'POST', 'HEAD']) {
      const bad = await rawRequest(port, method, '*');
      t.equal(bad.status, 400, `${who}: ${method} * 400`);
      if (method !== 'HEAD') {
        t.match(JSON.parse(bad.body), {
          error: { code: 'BAD_REQUEST', message: `the target * is for OPTIONS only: ${method}` },
        });
      }
    }
    // OPTIONS on a path is still a wrong method there
    t.equal(
      (await rawRequest(port, 'OPTIONS', '/healthz')).status,
      405,
      `${who}: OPTIONS /healthz`,
    );
  }
});
