import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { answerClientError, clientErrorReply } from '../shared/http-client-error.js';
import { freePort, spawnNode, spawnProxy, tempDir, type Proc } from './helpers/cluster.js';
import { rawExchange, rawRequest } from './helpers/raw-http.js';

/** Requests node:http refuses before any route sees them, and what each must be answered. */
const UNREADABLE: Array<{ what: string; text: string; status: number; code: string }> = [
  {
    what: 'no Host header',
    text: 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n',
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    what: 'a malformed request line',
    text: 'HELLO THERE\r\n\r\n',
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    what: 'a space in the target',
    text: 'GET /v1/jobs x HTTP/1.1\r\nHost: h\r\n\r\n',
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    what: 'a URL past the size limit',
    text: `GET /v1/jobs?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: h\r\n\r\n`,
    status: 431,
    code: 'TOO_LARGE',
  },
  {
    what: 'headers past the size limit',
    text: `GET /healthz HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`,
    status: 431,
    code: 'TOO_LARGE',
  },
  {
    what: 'CONNECT (no proxy here)',
    text: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    status: 405,
    code: 'BAD_REQUEST',
  },
];

/** The body as JSON, or what it was when it is not JSON (so every case reports). */
function jsonOf(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

/** Each unreadable request gets its status and the API's JSON error; the process lives on. */
async function answersAll(t: Test, proc: Proc, port: number) {
  for (const { what, text, status, code } of UNREADABLE) {
    const r = await rawExchange(port, text);
    t.equal(r.status, status, `${what}: ${status}`);
    t.match(r.headers['content-type'], /^application\/json/, `${what}: JSON`);
    t.match(jsonOf(r.body), { error: { code, message: /\w/ } }, `${what}: the error shape`);
    t.equal(proc.child.exitCode, null, `${what}: the process is alive`);
  }
  t.equal((await rawRequest(port, 'GET', '/healthz')).status, 200, 'still healthy');
}

t.test("a node's HTTP server answers requests it cannot read in the API's shape", async (t) => {
  const { port: proxyPort } = await spawnProxy(t.teardown, tempDir(t.teardown));
  const httpPort = await freePort();
  const { proc } = await spawnNode(t.teardown, proxyPort, tempDir(t.teardown), {
    HTTP_PORT: String(httpPort),
  });
  await proc.waitFor(`HTTP API on http://127.0.0.1:${httpPort}/v1`);
  await answersAll(t, proc, httpPort);
  const doc = (await (await fetch(`http://127.0.0.1:${httpPort}/v1/openapi.json`)).json()) as {
    paths: Record<string, { get: { responses: Record<string, unknown> } }>;
  };
  for (const { status } of UNREADABLE) {
    t.ok(doc.paths['/v1/jobs']?.get.responses[status], `${status} is in the OpenAPI document`);
  }
  const old = await rawExchange(httpPort, 'GET /healthz HTTP/1.0\r\n\r\n');
  t.equal(old.status, 200, 'HTTP/1.0 needs no Host');
});

t.test("the proxy's HTTP server answers requests it cannot read in the API's shape", async (t) => {
  const { proc, port } = await spawnProxy(t.teardown, tempDir(t.teardown));
  await answersAll(t, proc, port);
});

t.test('each client error has the status node:http would send', async (t) => {
  t.match(clientErrorReply({ code: 'HPE_HEADER_OVERFLOW' }), {
    status: 431,
    error: { code: 'TOO_LARGE' },
  });
  t.match(clientErrorReply({ code: 'ERR_HTTP_REQUEST_TIMEOUT' }), {
    status: 408,
    error: { code: 'TIMEOUT' },
  });
  t.match(clientErrorReply({ code: 'HPE_INVALID_METHOD', reason: 'Invalid method encountered' }), {
    status: 400,
    error: { code: 'BAD_REQUEST', message: /Invalid method/ },
  });
});

t.test('a socket already gone, or mid-response, is only destroyed', async (t) => {
  const gone = new PassThrough();
  gone.destroy();
  t.doesNotThrow(() => answerClientError(new Error('reset'), gone), 'destroyed');
  const reset = new PassThrough();
  answerClientError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), reset);
  t.ok(reset.destroyed, 'ECONNRESET: destroyed');
  const busy = Object.assign(new PassThrough(), { _httpMessage: { headersSent: true } });
  const written: Buffer[] = [];
  busy.on('data', (c: Buffer) => written.push(c));
  answerClientError(Object.assign(new Error('parse'), { code: 'HPE_INVALID_METHOD' }), busy);
  t.ok(busy.destroyed, 'mid-response: destroyed');
  t.equal(written.length, 0, 'mid-response: nothing mixed into the response');
});
