import net from 'node:net';
import t from 'tap';
import { connect, WireError } from '../client/index.js';
import { parseAddrs } from '../client/addr.js';
import { backoffDelay } from '../client/backoff.js';
import { freePort, startCluster, startNode, startProxy, tempDir } from './helpers/cluster.js';

const TICKET = /^[0-9A-HJKMNP-TV-Z]{26}$/;

t.test('addresses and backoff', async (t) => {
  t.same(parseAddrs('localhost:9001'), [{ host: 'localhost', port: 9001 }]);
  t.same(parseAddrs('9002'), [{ host: 'localhost', port: 9002 }]);
  t.same(parseAddrs('example.org'), [{ host: 'example.org', port: 9000 }]);
  t.same(parseAddrs('[::1]:9003, a:1'), [
    { host: '::1', port: 9003 },
    { host: 'a', port: 1 },
  ]);
  t.throws(() => parseAddrs('a:99999'), /not a port/);
  t.throws(() => parseAddrs(''), /no address/);
  t.equal(
    backoffDelay(0, 100, 1000, () => 0),
    50,
    'half the base at least',
  );
  t.equal(
    backoffDelay(3, 100, 1000, () => 1),
    800,
  );
  t.equal(
    backoffDelay(20, 100, 1000, () => 1),
    1000,
    'capped',
  );
});

t.test('submit, wait, result, status, list, stats on one pipelined connection', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const petrel = await connect({ addr: `127.0.0.1:${nodes[0]!.clientPort}` });
  t.teardown(() => petrel.close());

  const ticket = await petrel.submit('echo', 'hello', 'world');
  t.match(ticket, TICKET);
  const done = await petrel.wait(ticket);
  t.equal(done.state, 'done');
  t.equal(done.output, 'hello world');
  t.equal((await petrel.result(ticket)).output, 'hello world');
  t.equal(await petrel.status(ticket), 'done');

  // many calls at once share the connection and each gets its own answer
  const tickets = await Promise.all(
    Array.from({ length: 200 }, (_, i) => petrel.submit({ type: 'echo', args: [i] })),
  );
  t.equal(new Set(tickets).size, 200, '200 distinct tickets');
  const results = await Promise.all(tickets.map((tk) => petrel.wait(tk)));
  t.same(
    results.map((r) => r.output),
    tickets.map((_, i) => String(i)),
    'each wait answers its own ticket',
  );

  const listed = await petrel.list();
  t.equal(listed.length, 201);
  t.same(listed.at(-1), { ticket, state: 'done' }, 'oldest last');
  const stats = await petrel.stats();
  t.ok(stats.node, 'stats name this node');
});

t.test('waits hold their own connections, so quick calls are not held up', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const petrel = await connect({ addr: `127.0.0.1:${nodes[0]!.clientPort}` });
  t.teardown(() => petrel.close());
  const slow = await petrel.submit('sleep', 60_000);
  const waiting = petrel.wait(slow);
  const quick = await petrel.submit('echo', 'quick');
  t.equal((await petrel.wait(quick)).output, 'quick', 'answered while another wait holds on');
  t.equal(await petrel.cancel(slow), 'cancelled');
  t.equal((await waiting).state, 'cancelled');
  await t.rejects(petrel.wait(await petrel.submit('sleep', 60_000), { timeoutMs: 50 }), {
    code: 'TIMEOUT',
  });
});

t.test('errors carry the wire code', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const petrel = await connect({ addr: `127.0.0.1:${nodes[0]!.clientPort}` });
  t.teardown(() => petrel.close());
  const missing = '0'.repeat(26);
  await t.rejects(petrel.result(missing), { code: 'NOT_FOUND', name: 'WireError' });
  await t.rejects(petrel.submit({ type: 'sleep', args: ['soon'] }), { code: 'BAD_REQUEST' });
  await t.rejects(petrel.status('not-a-ticket\nQUIT'), { code: 'BAD_REQUEST' });
  const e = await petrel.result(missing).catch((err: unknown) => err);
  t.ok(e instanceof WireError, 'a WireError');
  t.equal((await petrel.wait(await petrel.submit('echo', 'still fine'))).state, 'done');
});

t.test('no node answering is one clear error, at once', async (t) => {
  const port = await freePort();
  const e = (await connect({ addr: `127.0.0.1:${port}` }).catch((err: unknown) => err)) as Error &
    WireError;
  t.equal(e.code, 'UNAVAILABLE');
  t.match(e.message, `no node answers at 127.0.0.1:${port} (ECONNREFUSED)`);
});

t.test('a token is sent on every connection; a wrong one is refused', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { CLIENT_TOKEN: 's3cret' } });
  const addr = `127.0.0.1:${nodes[0]!.clientPort}`;
  await t.rejects(connect({ addr, token: 'wrong' }), { code: 'UNAUTHORIZED' });
  await t.rejects(
    connect({ addr }).then((c) => c.list()),
    { code: 'UNAUTHORIZED' },
  );
  const petrel = await connect({ addr, token: 's3cret' });
  t.teardown(() => petrel.close());
  const ticket = await petrel.submit('echo', 'authorised');
  t.equal((await petrel.wait(ticket)).output, 'authorised', 'waits authenticate too');
});

t.test('a node restart is invisible: calls in flight are sent again', async (t) => {
  const proxy = await startProxy(t.teardown);
  const port = await freePort();
  const dataDir = tempDir(t.teardown);
  const env = { CLIENT_PORT: String(port), NODE_ID: 'n1' };
  const first = await startNode(t.teardown, proxy.port, env, dataDir);
  const petrel = await connect({ addr: `127.0.0.1:${port}` });
  t.teardown(() => petrel.close());
  const ticket = await petrel.submit('sleep', 300);
  const waiting = petrel.wait(ticket);
  await first.close(true);
  await startNode(t.teardown, proxy.port, env, dataDir);
  t.equal((await waiting).state, 'done', 'the wait resumed on the restarted node');
  t.equal(await petrel.status(ticket), 'done');
});

t.test('several addresses: a dead one is skipped', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const dead = await freePort();
  const petrel = await connect({
    addr: [`127.0.0.1:${dead}`, `127.0.0.1:${nodes[0]!.clientPort}`],
  });
  t.teardown(() => petrel.close());
  t.equal((await petrel.wait(await petrel.submit('echo', 'x'))).output, 'x');
});

t.test('a server that is not Petrel is reported, not trusted', async (t) => {
  const server = net.createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  await t.rejects(connect({ addr: `127.0.0.1:${port}` }), { code: 'UNAVAILABLE' });
});

t.test('logs and tail give each line with its stream', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2, { nodeEnv: { EXEC_ALLOW: 'sh' } });
  const petrel = await connect({ addr: `127.0.0.1:${nodes[1]!.clientPort}` });
  t.teardown(() => petrel.close());
  const ticket = await petrel.submit({
    type: 'exec',
    args: ['sh', '-c', 'echo out; echo "> err" >&2; echo'],
  });
  const seen: Array<{ stream: string; text: string }> = [];
  const r = await petrel.tail(ticket, (line) => seen.push(line));
  t.equal(r.state, 'done');
  const byStream = (lines: typeof seen, s: string) =>
    lines.filter((l) => l.stream === s).map((l) => l.text);
  t.same([byStream(seen, 'stdout'), byStream(seen, 'stderr')], [['out', ''], ['> err']]);
  const logs = await petrel.logs(ticket);
  t.same([byStream(logs, 'stdout'), byStream(logs, 'stderr')], [['out', ''], ['> err']]);
});

/** A node of the test's own on a free port: `answer` replies to each line the client sends. */
async function fakeNode(
  teardown: (fn: () => unknown) => void,
  answer: (line: string, reply: (text: string) => void) => void,
): Promise<number> {
  const server = net.createServer((s) => {
    let buf = '';
    s.on('error', () => {}); // a client gone before a late reply
    s.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        answer(line, (text) => s.write(`${text}\n`));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  teardown(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

t.test('a wait that runs out names the time the caller gave, not its last request', async (t) => {
  const T = '01M8N8GFDVEWPNKZDT70DFR54E';
  const asked: number[] = [];
  // a node whose every WAIT runs out after a few milliseconds, naming what it was asked
  const port = await fakeNode(t.teardown, (line, reply) => {
    const wait = /^WAIT \S+ (\d+)$/.exec(line);
    if (!wait) return reply(line === 'PING' ? 'OK PONG' : 'ERR UNKNOWN_COMMAND');
    const ms = Number(wait[1]);
    asked.push(ms);
    setTimeout(() => reply(`ERR TIMEOUT not finished after ${ms} ms`), Math.min(ms, 5));
  });
  const petrel = await connect({ addr: `127.0.0.1:${port}` });
  t.teardown(() => petrel.close());
  // long enough that a loaded machine still fits a second question in before the deadline
  await t.rejects(petrel.wait(T, { timeoutMs: 1500 }), {
    code: 'TIMEOUT',
    message: 'not finished after 1500 ms',
  });
  t.ok(asked.length > 1, `asked again until the time ran out (${asked.length} times)`);
});

t.test('a node from before streams: the output comes as stdout', async (t) => {
  const T = '01M8N8GFDVEWPNKZDT70DFR54E';
  const refuse = 'ERR BAD_REQUEST task is a task index: 0, 1, ...';
  const replies: Record<string, string> = {
    PING: 'OK PONG',
    [`LOGS ${T} streams`]: refuse,
    [`LOGS ${T}`]: 'OK 2\n> as typed\n2> too',
    [`TAIL ${T} streams`]: refuse,
    [`TAIL ${T}`]: `> one\n> 2> two\nOK {"ticket":"${T}","state":"done"}`,
  };
  const port = await fakeNode(t.teardown, (line, reply) =>
    reply(replies[line] ?? 'ERR UNKNOWN_COMMAND'),
  );
  const petrel = await connect({ addr: `127.0.0.1:${port}` });
  t.teardown(() => petrel.close());
  t.same(await petrel.logs(T), [
    { stream: 'stdout', text: '> as typed' },
    { stream: 'stdout', text: '2> too' },
  ]);
  const seen: unknown[] = [];
  t.match(await petrel.tail(T, (l) => seen.push(l)), { state: 'done' });
  t.same(seen, [
    { stream: 'stdout', text: 'one' },
    { stream: 'stdout', text: '2> two' },
  ]);
});
