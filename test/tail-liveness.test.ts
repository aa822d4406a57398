import net from 'node:net';
import t, { type Test } from 'tap';
import { connect, WireError } from '../client/index.js';
import { NoAnswerError } from '../client/dial.js';
import { probeVerdict } from '../client/stream-liveness.js';
import { spawnNode, startProxy, tempDir, until } from './helpers/cluster.js';
import { onLines } from './helpers/line-server.js';
import { failure, within } from './helpers/settle.js';
import { spawnPetrel, type CliRun } from './helpers/petrel-cli.js';

type Teardown = (fn: () => unknown) => void;

const TICKET = '01M8N8GPXM6C8T3FQY2ECZ0VBG';
const RESULT = JSON.stringify({ ticket: TICKET, state: 'done', output: 'one\ntwo\nthree' });

/** What a fake node does with a `TAIL`: `write` answers on its connection. */
type OnTail = (write: (text: string) => void, node: FakeNode) => void;

interface FakeNode {
  addr: string;
  /** `TAIL` lines received, on every connection. */
  tails: number;
  /** `PING`s received while a `TAIL` was unanswered (on other connections: probes). */
  pingsWhileTailing: number;
  /** The most connections open at once. */
  maxOpen: number;
  /** From now on the node answers nothing, on any connection, new ones too (SIGSTOP). */
  freeze: () => void;
  /** From now on the node answers `PING` on a new connection with this line. */
  refusePing: (line: string) => void;
  /** Closes the listening port; connections open stay open. */
  stopListening: () => void;
}

/**
 * A fake node on 127.0.0.1, port 0: it greets as a node does (`AUTH`, `PING`) and gives each
 * `TAIL` to `onTail`; a line written that starts with `OK ` ends the TAIL.
 */
async function fakeNode(teardown: Teardown, onTail: OnTail): Promise<FakeNode> {
  const sockets = new Set<net.Socket>();
  let frozen = false;
  let pingReply = 'OK PONG';
  let tailing = 0;
  const srv = net.createServer((s) => {
    sockets.add(s);
    node.maxOpen = Math.max(node.maxOpen, sockets.size);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    const write = (text: string) => {
      if (frozen || s.destroyed) return;
      if (/(^|\n)OK /.test(text)) tailing--;
      s.write(text);
    };
    onLines(s, (line) => {
      if (frozen) return;
      if (line.startsWith('AUTH ')) s.write('OK authenticated\n');
      else if (line === 'PING') {
        if (tailing > 0) node.pingsWhileTailing++;
        s.write(pingReply + '\n');
      } else if (line.startsWith('TAIL ')) {
        node.tails++;
        tailing++;
        onTail(write, node);
      } else s.write('ERR BAD_REQUEST unexpected here\n');
    });
  });
  const node: FakeNode = {
    addr: '',
    tails: 0,
    pingsWhileTailing: 0,
    maxOpen: 0,
    freeze: () => void (frozen = true),
    refusePing: (line) => void (pingReply = line),
    stopListening: () => void srv.close(),
  };
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  node.addr = `127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
  teardown(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  return node;
}

/** A node that prints two lines of the job, then freezes. */
const freezesAfterTwo: OnTail = (write, node) => {
  write('> one\n> two\n');
  node.freeze();
};

t.test('only silence on the second connection counts the followed one lost', async (t) => {
  const silent = new NoAnswerError('no answer to PING within 300 ms');
  t.equal(probeVerdict(silent, false), 'lost');
  t.equal(probeVerdict(silent, true), 'alive', 'a byte on the followed connection meanwhile');
  t.equal(probeVerdict(new WireError('BUSY', 'slow down'), false), 'alive', 'a refusal');
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  t.equal(probeVerdict(refused, false), 'alive', 'the port closed');
  t.equal(probeVerdict(new Error('closed before answering PING'), false), 'alive');
});

t.test('a tail on a node that froze moves to the next address, no line repeated', async (t) => {
  const frozen = await fakeNode(t.teardown, freezesAfterTwo);
  const live = await fakeNode(t.teardown, (write) =>
    write(`> one\n> two\n> three\nOK ${RESULT}\n`),
  );
  const c = await connect({ addr: [frozen.addr, live.addr], replyTimeoutMs: 300 });
  t.teardown(() => c.close());
  const lines: string[] = [];
  const started = Date.now();
  const r = await within(
    c.tail(TICKET, (l) => lines.push(l.text)),
    10_000,
    'tail',
  );
  t.equal(r.state, 'done');
  t.same(lines, ['one', 'two', 'three'], 'each line once');
  t.ok(Date.now() - started >= 300, 'not before the PING had its reply timeout');
  t.equal(frozen.tails, 1);
  t.equal(live.tails, 1, 'sent again once, to the next address');
});

t.test('a tail on the one node, frozen, fails with UNAVAILABLE in the window', async (t) => {
  const frozen = await fakeNode(t.teardown, freezesAfterTwo);
  const c = await connect({
    addr: frozen.addr,
    replyTimeoutMs: 300,
    connectTimeoutMs: 300,
    reconnectTimeoutMs: 1500,
  });
  t.teardown(() => c.close());
  const lines: string[] = [];
  const started = Date.now();
  const err = await within(failure(c.tail(TICKET, (l) => lines.push(l.text))), 30_000, 'tail');
  t.ok(err instanceof WireError, 'a WireError');
  t.match(err, {
    code: 'UNAVAILABLE',
    message: `no node answers at ${frozen.addr} (no answer to PING within 300 ms)`,
  });
  const took = Date.now() - started;
  t.ok(took >= 1500, `after the reconnect window (${took} ms)`);
  t.same(lines, ['one', 'two']);
});

/**
 * Follows TICKET on `node` with a reply timeout of 600 ms (a probe after 300 ms of quiet):
 * long enough that a test process stalled on a loaded machine does not miss the fake's PONG.
 */
async function followAlive(t: Test, node: FakeNode) {
  const c = await connect({ addr: node.addr, replyTimeoutMs: 600, reconnectTimeoutMs: 2000 });
  t.teardown(() => c.close());
  const lines: string[] = [];
  const r = await within(
    c.tail(TICKET, (l) => lines.push(l.text)),
    20_000,
    'tail',
  );
  return { state: r.state, lines };
}

t.test('a healthy node silent for several timeouts keeps the tail', async (t) => {
  // silent 3 s, five reply timeouts, while it answers PING on new connections at once
  const node = await fakeNode(t.teardown, (write) => {
    write('> one\n');
    setTimeout(() => write(`> two\nOK ${RESULT}\n`), 3000);
  });
  t.same(await followAlive(t, node), { state: 'done', lines: ['one', 'two'] });
  t.equal(node.tails, 1, 'the TAIL was not cut and sent again');
  t.ok(node.pingsWhileTailing >= 3, `it asked on second connections (${node.pingsWhileTailing})`);
  t.ok(node.maxOpen <= 3, 'the client, its tail and one probe at a time at most');
});

t.test('a probe refused, not left silent, keeps the tail', async (t) => {
  for (const refusal of ['closed port', 'ERR BUSY too many connections']) {
    const node = await fakeNode(t.teardown, (write, n) => {
      write('> one\n');
      if (refusal === 'closed port') n.stopListening();
      else n.refusePing(refusal);
      setTimeout(() => write(`> two\nOK ${RESULT}\n`), 2000);
    });
    const r = await followAlive(t, node);
    t.same(r, { state: 'done', lines: ['one', 'two'] }, refusal);
    t.equal(node.tails, 1, `${refusal}: the TAIL was not cut`);
  }
});

t.test('replyTimeoutMs 0: no probing', async (t) => {
  const node = await fakeNode(t.teardown, (write) =>
    setTimeout(() => write(`> one\nOK ${RESULT}\n`), 600),
  );
  const c = await connect({ addr: node.addr, replyTimeoutMs: 0 });
  t.teardown(() => c.close());
  const r = await within(
    c.tail(TICKET, () => {}),
    10_000,
    'tail',
  );
  t.equal(r.state, 'done');
  t.equal(node.pingsWhileTailing, 0);
});

t.test('petrel logs -f on a node that froze: exit 69 and one line, not a hang', async (t) => {
  const frozen = await fakeNode(t.teardown, freezesAfterTwo);
  const args = ['logs', '-f', TICKET, '--addr', frozen.addr, '--reply-timeout', '300'];
  args.push('--reconnect-timeout', '1000');
  const { done } = spawnPetrel(args, { teardown: t.teardown });
  // found within a second; then no node answers for the reconnect window
  const r = await within<CliRun>(done, 60_000, `petrel ${args.join(' ')}`);
  t.equal(r.code, 69, r.stderr);
  t.equal(r.stdout, 'one\ntwo\n');
  t.match(r.stderr, `petrel: no node answers at ${frozen.addr} (`);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
});

t.test('a tail on a real node stopped with SIGSTOP fails with UNAVAILABLE', async (t) => {
  const proxy = await startProxy(t.teardown);
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { EXEC_ALLOW: 'sh' });
  const addr = `127.0.0.1:${a.port}`;
  const c = await connect({
    addr,
    replyTimeoutMs: 300,
    connectTimeoutMs: 300,
    reconnectTimeoutMs: 1500,
  });
  t.teardown(() => c.close());
  // submitted with the default timeouts: a commit on a busy disk may take longer than 300 ms
  const submitter = await connect({ addr });
  const ticket = await submitter.submit('exec', 'sh', '-c', 'echo begin; sleep 10; echo end');
  await submitter.close();
  const lines: string[] = [];
  const tail = failure(c.tail(ticket, (l) => lines.push(l.text)));
  await until(() => lines.length > 0, 10_000, 'the first line');
  a.proc.child.kill('SIGSTOP');
  const err = await within(tail, 30_000, 'tail');
  t.match(err, { code: 'UNAVAILABLE', message: `no node answers at ${addr} (` });
  t.same(lines, ['begin']);
});
