import t from 'tap';
import { serveNodeHttp, startCluster, until } from './helpers/cluster.js';

type Json = Record<string, unknown>;

/**
 * The JSON Schema keywords the document's schemas use, checked; the problems found (none:
 * the value matches). Enough to hold a response to the document without a validator package.
 */
function problems(doc: Json, schema: Json, value: unknown, at = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/components/schemas/', '');
    return problems(
      doc,
      (doc.components as { schemas: Record<string, Json> }).schemas[name]!,
      value,
      at,
    );
  }
  const out: string[] = [];
  const sub = (s: Json, v: unknown, where: string) => problems(doc, s, v, where);
  if (
    Array.isArray(schema.anyOf) &&
    !(schema.anyOf as Json[]).some((s) => !sub(s, value, at).length)
  ) {
    out.push(`${at}: matches none of anyOf`);
  }
  const type = typeOf(value);
  const types = schema.type === undefined ? undefined : ([] as unknown[]).concat(schema.type);
  if (types && !types.includes(type) && !(type === 'integer' && types.includes('number'))) {
    return [...out, `${at}: ${type}, not ${types.join('|')}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) out.push(`${at}: not in enum`);
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
      out.push(`${at}: does not match ${schema.pattern}`);
    }
    if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) out.push(`${at}: date`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) out.push(`${at}: < min`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) out.push(`${at}: > max`);
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((v, i) => out.push(...sub(schema.items as Json, v, `${at}[${i}]`)));
  }
  if (type === 'object') {
    const obj = value as Json;
    for (const key of (schema.required as string[] | undefined) ?? []) {
      if (!(key in obj)) out.push(`${at}.${key}: missing`);
    }
    const props = (schema.properties as Record<string, Json> | undefined) ?? {};
    for (const [key, v] of Object.entries(obj)) {
      if (props[key]) out.push(...sub(props[key], v, `${at}.${key}`));
      else if (schema.additionalProperties === false) out.push(`${at}.${key}: not documented`);
      else if (typeof schema.additionalProperties === 'object') {
        out.push(...sub(schema.additionalProperties as Json, v, `${at}.${key}`));
      }
    }
  }
  return out;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** The OpenAPI path template that `path` matches. */
function templateOf(doc: Json, path: string): string {
  const paths = Object.keys(doc.paths as Json);
  const found = paths.find((p) => new RegExp(`^${p.replace(/\{\w+\}/g, '[^/]+')}$`).test(path));
  if (!found) throw new Error(`no path of the document matches ${path}`);
  return found;
}

t.test('every response the node gives is one its OpenAPI document describes', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, {
    nodeEnv: { EXEC_ALLOW: 'sh', CLIENT_TOKEN: 'tok' },
  });
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const auth = { authorization: 'Bearer tok' };
  const doc = (await (await fetch(`${base}/v1/openapi.json`)).json()) as Json;
  const statuses = new Set<string>();
  const named = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  t.not(problems(doc, named('Submitted'), { ticket: 'x' }).length, 0, 'the check can fail');
  t.not(problems(doc, named('Error'), { error: { code: 'NOPE', message: '' } }).length, 0);
  t.not(problems(doc, named('JobResult'), { ticket: '0'.repeat(26), state: 1 }).length, 0);

  /** Sends a request, holds the response to the document, returns its JSON body. */
  const check = async (
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = auth,
  ): Promise<Json | undefined> => {
    const res = await fetch(base + path, { method, body, headers });
    const text = await res.text();
    const what = `${method} ${path.slice(0, 60)} → ${res.status}`;
    statuses.add(`${method} ${res.status}`);
    const ops = (doc.paths as Record<string, Record<string, Json>>)[
      templateOf(doc, path.split('?')[0]!)
    ]!;
    if (res.status === 405) {
      const methods = Object.keys(ops).map((m) => m.toUpperCase());
      if (methods.includes('GET')) methods.push('HEAD');
      t.same(res.headers.get('allow')?.split(', ').sort(), methods.sort(), `${what}: Allow`);
      t.ok(
        Object.values(ops).every((op) => (op.responses as Json)['405']),
        `${what}: documented`,
      );
      return undefined;
    }
    const op = ops[method.toLowerCase()];
    let described = (op?.responses as Record<string, Json> | undefined)?.[String(res.status)];
    if (!described) {
      t.fail(`${what}: not in the document`);
      return undefined;
    }
    if (typeof described.$ref === 'string') {
      const name = described.$ref.replace('#/components/responses/', '');
      described = (doc.components as { responses: Record<string, Json> }).responses[name]!;
    }
    const declared = described;
    const documented = Object.keys((declared.headers as Json | undefined) ?? {});
    for (const header of documented) t.ok(res.headers.get(header), `${what}: header ${header}`);
    for (const header of ['location', 'www-authenticate', 'retry-after', 'allow']) {
      if (res.headers.has(header)) {
        t.ok(
          documented.some((h) => h.toLowerCase() === header),
          `${what}: its ${header} is documented`,
        );
      }
    }
    const content = declared.content as Record<string, { schema: Json }> | undefined;
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
    t.ok(content?.[type], `${what}: ${type} is documented`);
    if (type === 'application/json' && content?.[type]) {
      t.same(problems(doc, content[type].schema, JSON.parse(text)), [], `${what}: the body`);
    }
    return text && type === 'application/json' ? (JSON.parse(text) as Json) : undefined;
  };

  const submit = (spec: Json) => check('POST', '/v1/jobs', JSON.stringify(spec));
  const ticket = (await submit({ type: 'echo', args: ['hi'], key: 'k' }))!.ticket as string;
  await submit({ type: 'echo', args: ['hi'], key: 'k' });
  await submit({ type: 'exec', args: ['ls'] });
  await submit({
    tasks: [
      { type: 'exec', args: ['sh', '-c', 'true'] },
      { type: 'exec', args: ['ls'] },
    ],
  });
  await check('POST', '/v1/jobs', '{"type":');
  await check('POST', '/v1/jobs', 'x'.repeat(5 * 1024 * 1024));
  await check('POST', '/v1/jobs', '{}', {});
  await check('GET', `/v1/jobs/${ticket}?wait=10000`);
  await check('GET', `/v1/jobs/${'0'.repeat(26)}`);
  await check('GET', '/v1/jobs/nope');
  await check('GET', '/v1/jobs?limit=2');
  await check('GET', '/v1/jobs?limit=0');
  await check('GET', `/v1/jobs/${ticket}/logs`);
  await check('GET', `/v1/jobs/${'0'.repeat(26)}/logs`);
  const failing = (await submit({ type: 'exec', args: ['sh', '-c', 'exit 3'] }))!.ticket as string;
  await until(
    async () => (await check('GET', `/v1/jobs/${failing}?wait=2000`))?.state === 'failed',
  );
  await check('POST', `/v1/jobs/${failing}/retry`);
  await check('POST', `/v1/jobs/${ticket}/retry`);
  await check('POST', `/v1/jobs/${failing}/cancel`);
  await check('POST', `/v1/jobs/${'0'.repeat(26)}/cancel`);
  await check('DELETE', `/v1/jobs/${ticket}`);
  await check('PUT', '/v1/jobs');
  await check('GET', `/v1/jobs/${ticket}/cancel`);
  await check('POST', '/v1/openapi.json');
  await check('GET', '/v1/openapi.json');

  for (const seen of ['POST 201', 'POST 200', 'POST 403', 'POST 413', 'POST 401', 'GET 404']) {
    t.ok(statuses.has(seen), `${seen} was exercised`);
  }
});
