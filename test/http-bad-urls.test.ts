import net from 'node:net';
import t, { type Test } from 'tap';
import { freePort, spawnNode, spawnProxy, tempDir, type Proc } from './helpers/cluster.js';

/** One parsed HTTP/1.1 response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `METHOD target HTTP/1.1` as written, over a plain socket: fetch refuses targets that
 * are not valid URLs, and those are what a server must survive.
 */
export function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${target}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (split < 0 || !status) return reject(new Error(`no HTTP response to ${target}: ${text}`));
      const head = text.slice(0, split).split('\r\n').slice(1);
      const parsed: Record<string, string> = {};
      for (const line of head) {
        const colon = line.indexOf(':');
        parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body = text.slice(split + 4);
      if (parsed['transfer-encoding'] === 'chunked') body = unchunk(body);
      resolve({ status: Number(status[1]), headers: parsed, body });
    });
    const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

function unchunk(body: string): string {
  let out = '';
  for (let rest = body; ;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

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
