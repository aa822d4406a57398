import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileErrors, validate } from '@readme/openapi-parser';
import t from 'tap';
import {
  freePort,
  LineClient,
  serveNodeHttp,
  spawnNode,
  spawnProxy,
  startCluster,
  tempDir,
  until,
} from './helpers/cluster.js';

async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body, text };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  call(url, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });

t.test('submit, long-poll, cancel and list over HTTP', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const base = await serveNodeHttp(t.teardown, nodes[0]!);

  const sub = await post(`${base}/v1/jobs`, { type: 'echo', args: ['over http'] });
  t.equal(sub.status, 201);
  const ticket = sub.body.ticket as string;
  t.match(ticket, /^[0-9A-Z]{26}$/);
  t.equal(sub.headers.get('location'), `/v1/jobs/${ticket}`);

  const done = await call(`${base}/v1/jobs/${ticket}?wait=10000`);
  t.equal(done.status, 200);
  t.match(done.body, { ticket, state: 'done', output: 'over http', exitCode: 0 });

  // the same JSON as the line protocol's RESULT, from another node
  const line = await LineClient.connect(nodes[1]!.clientPort, t.teardown);
  t.equal(
    `OK ${(await call(`${base}/v1/jobs/${ticket}`)).text}`,
    await line.ask(`RESULT ${ticket}`),
  );

  const slow = (await post(`${base}/v1/jobs`, { type: 'sleep', args: ['60000'] })).body
    .ticket as string;
  const polled = await call(`${base}/v1/jobs/${slow}?wait=50`);
  t.equal(polled.status, 200, 'a long poll that runs out answers the job as it is');
  t.match(polled.body.state, /^(queued|running)$/);
  const cancelled = await post(`${base}/v1/jobs/${slow}/cancel`, '');
  t.equal(cancelled.status, 200);
  t.equal(cancelled.body.state, 'cancelled');

  const all = await call(`${base}/v1/jobs`);
  t.same(
    (all.body.jobs as Array<{ ticket: string }>).map((j) => j.ticket),
    [slow, ticket],
    'newest first',
  );
  const onlyDone = await call(`${base}/v1/jobs?state=done&limit=5`);
  t.same(
    (onlyDone.body.jobs as Array<{ ticket: string }>).map((j) => j.ticket),
    [ticket],
  );
  t.equal((await call(`${base}/v1/jobs?limit=1`)).body.jobs instanceof Array, true);
  t.equal(((await call(`${base}/v1/jobs?limit=1`)).body.jobs as unknown[]).length, 1);
});

t.test('a known key answers 200 with its ticket, a new one 201', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const keyed = await post(`${base}/v1/jobs`, { type: 'echo', args: ['once'], key: 'http-key' });
  t.equal(keyed.status, 201, 'a new key: created');
  const again = await post(`${base}/v1/jobs`, { type: 'echo', args: ['twice'], key: 'http-key' });
  t.equal(again.status, 200, 'a known key: 200, nothing new');
  t.equal(again.body.ticket, keyed.body.ticket, 'the same ticket');
});

t.test('errors are JSON with the wire code and its status', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const expect = async (
    p: Promise<{ status: number; body: Record<string, unknown> }>,
    status: number,
    code: string,
    message?: RegExp,
  ) => {
    const r = await p;
    t.equal(r.status, status, `${code} is ${status}`);
    t.match(r.body, { error: { code, message: message ?? /./ } });
  };
  await expect(call(`${base}/v1/jobs/${'0'.repeat(26)}`), 404, 'NOT_FOUND');
  await expect(call(`${base}/v1/jobs/nope`), 400, 'BAD_REQUEST', /not a ticket/);
  await expect(post(`${base}/v1/jobs`, '{"type":'), 400, 'BAD_REQUEST', /not valid JSON/);
  await expect(post(`${base}/v1/jobs`, { type: 'sleep', args: ['x'] }), 400, 'BAD_REQUEST', /args/);
  await expect(post(`${base}/v1/jobs`, { type: 'echo', colour: 'red' }), 400, 'BAD_REQUEST');
  await expect(post(`${base}/v1/jobs`, 'x'.repeat(5 * 1024 * 1024)), 413, 'TOO_LARGE');
  await expect(call(`${base}/v1/jobs?wait=-1&limit=0`), 400, 'BAD_REQUEST', /limit/);
  await expect(call(`${base}/v1/jobs?state=sleeping`), 400, 'BAD_REQUEST', /state/);
  await expect(call(`${base}/v1/nothing`), 404, 'NOT_FOUND', /no such endpoint/);
  await expect(call(`${base}/v1/jobs`, { method: 'DELETE' }), 405, 'BAD_REQUEST');
  t.equal((await call(`${base}/healthz`)).status, 200, 'health still answers');
});

t.test('a token guards the API as it guards the line protocol', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { CLIENT_TOKEN: 'tok' } });
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const denied = await post(`${base}/v1/jobs`, { type: 'echo', args: ['x'] });
  t.equal(denied.status, 401);
  t.match(denied.headers.get('www-authenticate'), /^Bearer/);
  t.equal(
    (await call(`${base}/v1/jobs`, { headers: { authorization: 'Bearer bad' } })).status,
    401,
  );
  const ok = await post(
    `${base}/v1/jobs`,
    { type: 'echo', args: ['x'] },
    { authorization: 'Bearer tok' },
  );
  t.equal(ok.status, 201);
  t.equal((await call(`${base}/v1/openapi.json`)).status, 200, 'the document is public');
});

/** Reads a streamed response until `until` holds of its text, or to its end. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  text: { value: string },
  until: (text: string) => boolean = () => false,
): Promise<void> {
  const decoder = new TextDecoder();
  while (!until(text.value)) {
    const { value, done } = await reader.read();
    if (done) return;
    text.value += decoder.decode(value, { stream: true });
  }
}

t.test('logs, whole and followed as the job prints, both streams or one', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { EXEC_ALLOW: 'sh' } });
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const gate = join(tempDir(t.teardown), 'go');
  const script = `echo first; echo oops >&2; while [ ! -e ${gate} ]; do sleep 0.02; done; echo second`;
  const ticket = (await post(`${base}/v1/jobs`, { type: 'exec', args: ['sh', '-c', script] })).body
    .ticket as string;

  const res = await fetch(`${base}/v1/jobs/${ticket}/logs?follow=1&stream=stdout`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain/);
  const out = { value: '' };
  const reader = res.body!.getReader();
  await readUntil(reader, out, (s) => s.includes('first\n'));
  t.equal(out.value, 'first\n', 'the first line arrives while the job still runs');
  const errRes = await fetch(`${base}/v1/jobs/${ticket}/logs?follow=1&stream=stderr`);
  const err = { value: '' };
  const errReader = errRes.body!.getReader();
  await readUntil(errReader, err, (s) => s.includes('oops\n'));
  t.equal(err.value, 'oops\n', 'stderr alone');
  t.equal((await call(`${base}/v1/jobs/${ticket}`)).body.state, 'running');
  writeFileSync(gate, '');
  await readUntil(reader, out);
  t.equal(out.value, 'first\nsecond\n', 'the stream ends with the job');
  await readUntil(errReader, err);
  t.equal(err.value, 'oops\n', 'only stderr, to the end');

  const whole = await call(`${base}/v1/jobs/${ticket}/logs`);
  t.equal(whole.status, 200);
  t.same(whole.text.split('\n').sort(), ['', 'first', 'oops', 'second'], 'both streams');
  t.match(whole.text, /first\n(.*\n)?second\n/);
  const both = await fetch(`${base}/v1/jobs/${ticket}/logs?follow=1`);
  t.equal(await both.text(), whole.text, 'followed after the end: the same');
  t.equal((await call(`${base}/v1/jobs/${ticket}/logs?stream=stdout`)).text, 'first\nsecond\n');
  t.equal((await call(`${base}/v1/jobs/${ticket}/logs?stream=stderr`)).text, 'oops\n');
  t.equal((await call(`${base}/v1/jobs/${ticket}/logs?stream=both`)).status, 400);
  t.equal((await call(`${base}/v1/jobs/${'0'.repeat(26)}/logs`)).status, 404);
  t.equal((await call(`${base}/v1/jobs/${ticket}/logs?follow=yes`)).status, 400);
  t.equal((await call(`${base}/v1/jobs/${ticket}/logs?task=3`)).status, 400);
});

t.test('retry runs a failed job again under its ticket', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { EXEC_ALLOW: 'sh' } });
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const ticket = (await post(`${base}/v1/jobs`, { type: 'exec', args: ['sh', '-c', 'exit 4'] }))
    .body.ticket as string;
  t.match((await call(`${base}/v1/jobs/${ticket}?wait=10000`)).body, {
    state: 'failed',
    exitCode: 4,
  });
  const again = await post(`${base}/v1/jobs/${ticket}/retry`, '');
  t.equal(again.status, 200);
  t.equal(again.body.ticket, ticket);
  t.notOk(['failed', 'cancelled', 'done'].includes(again.body.state as string), 'open again');
  const after = await until(async () => {
    const r = await call(`${base}/v1/jobs/${ticket}?wait=2000`);
    return r.body.state === 'failed' ? r : undefined;
  });
  t.equal(after.body.exitCode, 4, 'it ran again');
  const done = (await post(`${base}/v1/jobs`, { type: 'echo', args: ['x'] })).body.ticket as string;
  await call(`${base}/v1/jobs/${done}?wait=10000`);
  const refused = await post(`${base}/v1/jobs/${done}/retry`, '');
  t.equal(refused.status, 400, 'a done job is not retried');
  t.equal((refused.body.error as { code: string }).code, 'BAD_REQUEST');
});

t.test('the OpenAPI document is valid 3.1 and describes every route', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const doc = (await call(`${base}/v1/openapi.json`)).body;
  t.equal(doc.openapi, '3.1.0');
  const result = await validate(structuredClone(doc) as never);
  t.ok(result.valid, result.valid ? 'valid' : compileErrors(result));
  const paths = doc.paths as Record<string, Record<string, unknown>>;
  t.same(Object.keys(paths).sort(), [
    '/v1/jobs',
    '/v1/jobs/{ticket}',
    '/v1/jobs/{ticket}/cancel',
    '/v1/jobs/{ticket}/logs',
    '/v1/jobs/{ticket}/retry',
    '/v1/openapi.json',
  ]);
  const schemas = (doc.components as { schemas: Record<string, { properties?: object }> }).schemas;
  t.ok(schemas.JobSpec?.properties && 'timeoutMs' in schemas.JobSpec.properties, 'the job spec');
  t.ok(schemas.JobResult?.properties && 'exitCode' in schemas.JobResult.properties);
  const logs = paths['/v1/jobs/{ticket}/logs']?.get as { parameters: Array<{ name: string }> };
  t.match(
    logs.parameters.find((p) => p.name === 'stream'),
    { in: 'query', schema: { enum: ['stdout', 'stderr'] } },
    'the stream filter is documented',
  );
});

t.test('a real node process serves the API on HTTP_PORT', async (t) => {
  const { port: proxyPort } = await spawnProxy(t.teardown, tempDir(t.teardown));
  const httpPort = await freePort();
  const { proc } = await spawnNode(t.teardown, proxyPort, tempDir(t.teardown), {
    HTTP_PORT: String(httpPort),
  });
  await proc.waitFor(`HTTP API on http://127.0.0.1:${httpPort}/v1`);
  const base = `http://127.0.0.1:${httpPort}`;
  const ticket = (await post(`${base}/v1/jobs`, { type: 'echo', args: ['real'] })).body
    .ticket as string;
  const r = await until(async () => {
    const got = await call(`${base}/v1/jobs/${ticket}?wait=5000`);
    return got.body.state === 'done' ? got : undefined;
  });
  t.equal(r.body.output, 'real');
});
