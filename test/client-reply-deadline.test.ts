import net from 'node:net';
import t from 'tap';
import { connect, WireError, type ConnectOptions } from '../client/index.js';
import { replyTimeLeft } from '../client/reply-deadline.js';
import { hoistGlobalOptions } from '../cli/global-options.js';
import { until } from './helpers/cluster.js';
import { petrel, spawnPetrel, type CliRun } from './helpers/petrel-cli.js';
import { onLines } from './helpers/line-server.js';
import { failure, within } from './helpers/settle.js';

const TICKET = '01M8N8GPXM6C8T3FQY2ECZ0VBG';
const RESULT = JSON.stringify({ ticket: TICKET, state: 'done', output: 'hi' });

type Answer = (line: string, write: (text: string) => void) => void;

/**
 * A fake node on 127.0.0.1, port 0: it greets as a node does (`AUTH` -> `OK authenticated`,
 * `PING` -> `OK PONG`), then gives every other line to `answer`, which says nothing by default:
 * a node frozen after the greeting (SIGSTOP, a stuck event loop), whose kernel still ACKs.
 */
async function fakeNode(
  teardown: (fn: () => unknown) => void,
  answer: Answer = () => {},
): Promise<{ addr: string; connections: () => number }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const srv = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => {});
    const write = (text: string) => void (s.destroyed || s.write(text));
    onLines(s, (line) => {
      if (line.startsWith('AUTH ')) write('OK authenticated\n');
      else if (line === 'PING') write('OK PONG\n');
      else answer(line, write);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  teardown(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  return {
    addr: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    connections: () => connections,
  };
}

t.test('the time left counts from the last byte, plus what the request holds', async (t) => {
  t.equal(replyTimeLeft(1000, 1000, 0, 300), 300);
  t.equal(replyTimeLeft(1500, 1000, 0, 300), -200, 'hung');
  t.equal(replyTimeLeft(1500, 1000, 3000, 300), 2800, 'a WAIT of 3000 ms is not');
  t.equal(replyTimeLeft(9e15, 0, Infinity, 300), Infinity, 'a followed stream never is');
});

t.test(
  'a call a frozen node never answers fails with UNAVAILABLE naming the silence',
  async (t) => {
    const frozen = await fakeNode(t.teardown);
    const c = await connect({ addr: frozen.addr, token: 's3cret', replyTimeoutMs: 300 });
    t.teardown(() => c.close());
    const started = Date.now();
    // a SUBMIT without a key may not be sent again: it fails at once
    const err = await within(failure(c.submit('echo', 'hi')), 10_000, 'submit');
    t.ok(err instanceof WireError, 'a WireError');
    t.match(err, {
      code: 'UNAVAILABLE',
      message: `the connection to ${frozen.addr} was lost before the reply (no reply within 300 ms)`,
    });
    t.ok(Date.now() - started >= 250, 'not before the reply timeout');
  },
);

t.test('a resendable call on a frozen node that still greets gives up in the window', async (t) => {
  const frozen = await fakeNode(t.teardown);
  const c = await connect({ addr: frozen.addr, replyTimeoutMs: 300, reconnectTimeoutMs: 1000 });
  t.teardown(() => c.close());
  // each new connection is greeted, then hangs too: that is no node answering, not a new start
  const err = await within(failure(c.status(TICKET)), 10_000, 'status');
  t.match(err, {
    code: 'UNAVAILABLE',
    message: `no node answers at ${frozen.addr} (no reply within 300 ms)`,
  });
  t.ok(frozen.connections() >= 2, 'it was sent again on a new connection first');
});

t.test('a resendable call moves to the next address; one that is not fails', async (t) => {
  const frozen = await fakeNode(t.teardown);
  const live = await fakeNode(t.teardown, (line, write) => {
    if (line === `STATUS ${TICKET}`) write('OK running\n');
    else write('ERR BAD_REQUEST unexpected here\n');
  });
  const c = await connect({ addr: [frozen.addr, live.addr], replyTimeoutMs: 300 });
  t.teardown(() => c.close());
  const submitted = failure(c.submit('echo', 'hi'));
  t.equal(await within(c.status(TICKET), 10_000, 'status'), 'running', 'answered by the live one');
  t.match(await submitted, { code: 'UNAVAILABLE', message: /no reply within 300 ms/ });
  t.equal(live.connections(), 1);
});

t.test(
  'a WAIT the node holds longer than replyTimeoutMs but within its ms is not cut',
  async (t) => {
    const node = await fakeNode(t.teardown, (line, write) => {
      const m = /^WAIT (\S+) (\d+)$/.exec(line);
      if (!m) return write('ERR BAD_REQUEST unexpected here\n');
      // the job finishes 1 s into a wait of about 3 s: silent three times replyTimeoutMs
      setTimeout(() => write(`OK ${RESULT}\n`), Math.min(1000, Number(m[2]) - 500));
    });
    const c = await connect({ addr: node.addr, replyTimeoutMs: 300, reconnectTimeoutMs: 2000 });
    t.teardown(() => c.close());
    const r = await within(c.wait(TICKET, { timeoutMs: 3000 }), 10_000, 'wait');
    t.equal(r.state, 'done');
    // the client's main connection and the one wait holds: the WAIT was not cut and sent again
    t.equal(node.connections(), 2, 'no connection reopened');
  },
);

t.test('every byte of a reply starts the clock again', async (t) => {
  const node = await fakeNode(t.teardown, (line, write) => {
    if (line !== 'LIST') return write('ERR BAD_REQUEST unexpected here\n');
    // a long listing that trickles in: 800 ms in all, never 300 ms without a byte
    const parts = ['OK 3\n', `${TICKET} done\n`, `${TICKET} done\n`, `${TICKET} done\n`];
    parts.forEach((p, i) => setTimeout(() => write(p), i * 200));
  });
  const c = await connect({ addr: node.addr, replyTimeoutMs: 300, reconnectTimeoutMs: 2000 });
  t.teardown(() => c.close());
  const jobs = await within(c.list(), 10_000, 'list');
  t.equal(jobs.length, 3);
  t.equal(node.connections(), 1);
});

t.test('tail following a job that prints nothing for long is not cut', async (t) => {
  let tails = 0;
  const node = await fakeNode(t.teardown, (line, write) => {
    if (!line.startsWith('TAIL ')) return write('ERR BAD_REQUEST unexpected here\n');
    tails++;
    setTimeout(() => write(`> hi\nOK ${RESULT}\n`), 1000);
  });
  const c = await connect({ addr: node.addr, replyTimeoutMs: 300, reconnectTimeoutMs: 2000 });
  t.teardown(() => c.close());
  const lines: string[] = [];
  const r = await within(
    c.tail(TICKET, (l) => lines.push(l.text)),
    10_000,
    'tail',
  );
  t.equal(r.state, 'done');
  t.same(lines, ['hi']);
  // the node answers PING on second connections meanwhile (see tail-liveness.test.ts)
  t.equal(tails, 1, 'the TAIL was not cut and sent again');
});

t.test('a worker waiting for jobs longer than replyTimeoutMs keeps its connection', async (t) => {
  const node = await fakeNode(t.teardown, (line, write) => {
    if (line.startsWith('WORKER ')) {
      write('OK worker\n');
      setTimeout(() => write(`JOB ${TICKET} {"type":"upper","args":["hi"]}\n`), 1000);
    }
  });
  const c = await connect({ addr: node.addr, replyTimeoutMs: 300 });
  t.teardown(() => c.close());
  let got: string | undefined;
  const w = await c.worker('upper', (job) => (got = job.args[0]));
  t.teardown(() => w.close());
  t.equal(await until(() => got, 10_000, 'the job'), 'hi');
  t.equal(node.connections(), 2, 'the client and its worker, neither reopened');
});

t.test('replyTimeoutMs must be ms from 0', async (t) => {
  const err = await failure(connect({ addr: '127.0.0.1:1', replyTimeoutMs: -1 }));
  t.match(err, { code: 'BAD_REQUEST', message: /replyTimeoutMs is ms from 0/ });
});

t.test('reconnectTimeoutMs and connectTimeoutMs are checked before dialing', async (t) => {
  const refused: Array<[ConnectOptions, string]> = [
    [
      { reconnectTimeoutMs: -1 },
      'reconnectTimeoutMs is ms from 0 (0: fail at once, Infinity: never): -1',
    ],
    [
      { reconnectTimeoutMs: NaN },
      'reconnectTimeoutMs is ms from 0 (0: fail at once, Infinity: never): NaN',
    ],
    // from an environment variable unparsed: a string compared to a number never fails
    [
      { reconnectTimeoutMs: '5000' as unknown as number },
      'reconnectTimeoutMs is ms from 0 (0: fail at once, Infinity: never): 5000',
    ],
    [{ connectTimeoutMs: 0 }, 'connectTimeoutMs is ms from 1: 0'],
    [{ connectTimeoutMs: Infinity }, 'connectTimeoutMs is ms from 1: Infinity'],
  ];
  for (const [opts, message] of refused) {
    const err = await failure(connect({ addr: '127.0.0.1:1', ...opts }));
    t.match(err, { code: 'BAD_REQUEST', message }, message);
  }
  const node = await fakeNode(t.teardown);
  const c = await connect({ addr: node.addr, reconnectTimeoutMs: Infinity });
  t.ok(c, 'Infinity: reconnect for as long as it takes');
  await c.close();
});

t.test('--reply-timeout comes before the command as the other global options', async (t) => {
  t.same(hoistGlobalOptions(['--reply-timeout', '300', 'ls']), ['ls', '--reply-timeout', '300']);
});

/** Runs `petrel` to its end, killed at teardown if it hangs. */
function petrelBounded(
  teardown: (fn: () => unknown) => void,
  args: string[],
  env: Record<string, string> = {},
) {
  const { done } = spawnPetrel(args, { env, teardown });
  return within<CliRun>(done, 20_000, `petrel ${args.join(' ')}`);
}

t.test('petrel against a frozen node: exit 69 and one line, not a hang', async (t) => {
  const frozen = await fakeNode(t.teardown);
  const r = await petrelBounded(t.teardown, ['submit', 'echo', 'hi'], {
    PETREL_ADDR: frozen.addr,
    PETREL_REPLY_TIMEOUT: '300',
  });
  t.equal(r.code, 69, r.stderr);
  t.match(r.stderr, /^petrel: the connection to .* \(no reply within 300 ms\)/);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
});

t.test('petrel --reply-timeout: a status moves on from a frozen node', async (t) => {
  const frozen = await fakeNode(t.teardown);
  const live = await fakeNode(t.teardown, (_line, write) => write('OK running\n'));
  const addr = `${frozen.addr},${live.addr}`;
  const r = await petrelBounded(t.teardown, [
    '--reply-timeout',
    '300',
    'status',
    TICKET,
    '--addr',
    addr,
  ]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), 'running');
});

t.test('petrel --reply-timeout takes a duration', async (t) => {
  const r = await petrel(['status', TICKET, '--reply-timeout', 'soon']);
  t.equal(r.code, 64);
  t.match(r.stderr, /--reply-timeout takes milliseconds \(1500\) or a number with a unit/);
  // an empty variable means unset, as for PETREL_ADDR and PETREL_TOKEN
  const unset = await petrel(['status', TICKET, '--addr', '127.0.0.1:1'], {
    env: { PETREL_REPLY_TIMEOUT: '' },
  });
  t.equal(unset.code, 69, unset.stderr);
});
