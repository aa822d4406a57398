import net from 'node:net';
import t from 'tap';
import { connect, WireError } from '../client/index.js';
import { idlePingMs } from '../client/worker-liveness.js';
import { startCluster, until } from './helpers/cluster.js';
import { onLines } from './helpers/line-server.js';
import { spawnPetrel } from './helpers/petrel-cli.js';

type Teardown = (fn: () => unknown) => void;

const TICKETS = ['01M8N8GPXM6C8T3FQY2ECZ0VB1', '01M8N8GPXM6C8T3FQY2ECZ0VB2'];

/** One connection to a fake node: what it was sent, and a way to write to it. */
interface FakeConn {
  lines: string[];
  /** Lines sent after `WORKER` (the node's reply to it included). */
  workerLines: string[];
  write: (text: string) => void;
}

type Answer = (line: string, conn: FakeConn) => void;

/**
 * A fake node on 127.0.0.1, port 0: it answers `AUTH`, `PING` and `WORKER <type> [n]` as a
 * node does, and once a connection is a worker gives its lines to `answer`, which says
 * nothing by default: a node frozen after the registration (SIGSTOP, a stuck event loop),
 * whose kernel still ACKs.
 */
async function fakeNode(teardown: Teardown, answer: Answer = () => {}) {
  const sockets = new Set<net.Socket>();
  const conns: FakeConn[] = [];
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    const conn: FakeConn = {
      lines: [],
      workerLines: [],
      write: (text) => void (s.destroyed || s.write(text)),
    };
    conns.push(conn);
    let worker = false;
    onLines(s, (line) => {
      conn.lines.push(line);
      if (worker) {
        conn.workerLines.push(line);
        answer(line, conn);
      } else if (line.startsWith('AUTH ')) conn.write('OK authenticated\n');
      else if (line === 'PING') conn.write('OK PONG\n');
      else if (line.startsWith('WORKER ')) {
        worker = true;
        conn.write('OK worker\n');
      } else conn.write('ERR BAD_REQUEST unexpected here\n');
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  teardown(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  const workerConns = () => conns.filter((c) => c.lines.some((l) => l.startsWith('WORKER ')));
  return { addr: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`, workerConns };
}

/**
 * A relay on 127.0.0.1, port 0, to a real node, counting what passes: the connections that
 * became workers, the worker's PINGs and the node's PONGs.
 */
async function relay(teardown: Teardown, port: number) {
  const sockets = new Set<net.Socket>();
  const stats = { workerConnections: 0, pings: 0, pongs: 0 };
  const lines = (s: net.Socket, each: (line: string) => void) => {
    let text = '';
    s.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        each(text.slice(0, nl));
        text = text.slice(nl + 1);
      }
    });
  };
  const srv = net.createServer((client) => {
    const node = net.connect({ host: '127.0.0.1', port });
    for (const s of [client, node]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        node.destroy();
      });
    }
    client.pipe(node);
    node.pipe(client);
    let worker = false;
    lines(client, (line) => {
      if (line.startsWith('WORKER ')) {
        worker = true;
        stats.workerConnections++;
      } else if (worker && line === 'PING') stats.pings++;
    });
    lines(node, (line) => {
      if (worker && line === 'OK PONG') stats.pongs++;
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  teardown(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  return { addr: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`, stats };
}

/** SUBMIT of a custom type, tried again while no worker has registered it there yet. */
async function submitWhenServed(addr: string, teardown: Teardown, type: string, arg: string) {
  const c = await connect({ addr });
  teardown(() => c.close());
  const ticket = await until(
    () =>
      c.submit(type, arg).catch((err: unknown) => {
        if (err instanceof WireError && /unknown job type/.test(err.message)) return undefined;
        throw err;
      }),
    10_000,
    `a worker of ${type} to register`,
  );
  return { c, ticket };
}

t.test('an idle worker pings at half the reply timeout', async (t) => {
  t.equal(idlePingMs(15_000), 7_500, 'every 7.5 s at the default');
  t.equal(idlePingMs(300), 150);
  t.equal(idlePingMs(1), 1, 'never a timer of 0');
});

t.test('a replyTimeoutMs that is no number of ms is refused', async (t) => {
  const node = await fakeNode(t.teardown);
  const c = await connect({ addr: node.addr });
  t.teardown(() => c.close());
  const err = await c.worker('resize', () => 'x', { replyTimeoutMs: -1 }).catch((e: unknown) => e);
  t.match(err, { code: 'BAD_REQUEST', message: 'replyTimeoutMs is ms from 0 (0: never): -1' });
  t.equal(node.workerConns().length, 0, 'before anything registers');
});

t.test('a worker on a node frozen after the registration moves to the next address', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const real = `127.0.0.1:${nodes[0]!.clientPort}`;
  const frozen = await fakeNode(t.teardown);
  // the client's own calls keep the default: the worker's option is its own
  const c = await connect({ addr: [frozen.addr, real] });
  t.teardown(() => c.close());
  const errors: string[] = [];
  const w = await c.worker('resize', (job) => `resized ${job.args.join(' ')}`, {
    replyTimeoutMs: 300,
    onError: (err) => errors.push(err.message),
  });
  t.teardown(() => w.close());
  const registered = Date.now();
  t.equal(frozen.workerConns().length, 1, 'registered on the frozen node first');

  await until(() => errors.length > 0, 5_000, 'the worker to find the node silent');
  const after = Date.now() - registered;
  t.same(errors, [
    `the node at ${frozen.addr} sent nothing for 300 ms after PING: the connection counts as hung; reconnecting`,
  ]);
  t.ok(after >= 300, `not before the reply timeout (${after} ms)`);
  t.same(frozen.workerConns()[0]!.workerLines, ['PING'], 'it asked PING, once');

  const { c: submitter, ticket } = await submitWhenServed(real, t.teardown, 'resize', 'a.png');
  const r = await submitter.wait(ticket, { timeoutMs: 10_000 });
  t.match(r, { state: 'done', output: 'resized a.png' }, 'served from the live node');
  t.equal(frozen.workerConns().length, 1, 'not back to the frozen one');
  t.equal(errors.length, 1, 'one line for the silence, none more');
});

t.test('a job running when the node froze is given up, its result not sent', async (t) => {
  const body = JSON.stringify({ type: 'resize', args: ['x'], attempt: 1 });
  const node = await fakeNode(t.teardown);
  const c = await connect({ addr: node.addr });
  t.teardown(() => c.close());
  const errors: string[] = [];
  let aborted = false;
  const w = await c.worker(
    'resize',
    // a long job: it ends only when taken back, and then returns a result nobody may hear
    (job) =>
      new Promise((resolve) => {
        job.signal.addEventListener('abort', () => {
          aborted = true;
          resolve('too late');
        });
      }),
    { replyTimeoutMs: 300, onError: (err) => errors.push(err.message) },
  );
  t.teardown(() => w.close());
  // the node hands out a job, then freezes
  node.workerConns()[0]!.write(`JOB ${TICKETS[0]} ${body}\n`);
  await until(() => errors.length > 0, 5_000, 'the worker to find the node silent');
  t.same(errors, [
    `the node at ${node.addr} sent nothing for 300 ms after PING: the connection counts as hung; reconnecting (1 running job given up: the node runs it again)`,
  ]);
  t.ok(aborted, "the job's signal was aborted");
  await until(() => w.handled === 1, 5_000, 'the handler to end');
  t.same(node.workerConns()[0]!.workerLines, ['PING'], 'a PING while the job ran; no DONE');
});

t.test('a healthy idle worker stays on one connection, then serves a job', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const via = await relay(t.teardown, nodes[0]!.clientPort);
  // the worker takes the client's replyTimeoutMs
  const c = await connect({ addr: via.addr, replyTimeoutMs: 300 });
  t.teardown(() => c.close());
  const errors: string[] = [];
  const w = await c.worker('resize', (job) => `resized ${job.args.join(' ')}`, {
    onError: (err) => errors.push(err.message),
  });
  t.teardown(() => w.close());
  // eight PINGs answered: at least 1.2 s idle, four reply timeouts
  await until(() => via.stats.pongs >= 8, 15_000, 'eight PINGs answered');
  t.equal(via.stats.workerConnections, 1, 'one connection all along');
  t.same(errors, []);
  t.ok(via.stats.pings - via.stats.pongs <= 1, 'a PING at a time');

  const ticket = await c.submit('resize', 'b.png');
  const r = await c.wait(ticket, { timeoutMs: 10_000 });
  t.match(r, { state: 'done', output: 'resized b.png' });
  t.equal(w.handled, 1);
  t.equal(via.stats.workerConnections, 1, 'still the same connection');
  t.same(errors, []);
});

t.test('a JOB line before the PONG counts as life; the PONG is no job', async (t) => {
  // the PONG comes 750 ms after the PING, about twice the reply timeout, but a line every
  // 150 ms before it (two JOBs, a CANCEL, an ERR) says the node is alive
  const node = await fakeNode(t.teardown, (line, conn) => {
    if (line !== 'PING') return;
    if (conn.workerLines.filter((l) => l === 'PING').length > 1) return conn.write('OK PONG\n');
    const body = JSON.stringify({ type: 'resize', args: ['x'], attempt: 1 });
    const out = [
      ...TICKETS.map((tk) => `JOB ${tk} ${body}\n`),
      'CANCEL nope\n',
      'ERR NOT_FOUND x\n',
    ];
    [...out, 'OK PONG\n'].forEach((text, i) => setTimeout(() => conn.write(text), (i + 1) * 150));
  });
  const c = await connect({ addr: node.addr });
  t.teardown(() => c.close());
  const errors: string[] = [];
  const w = await c.worker('resize', (job) => `done ${job.ticket}`, {
    concurrency: 2,
    replyTimeoutMs: 400,
    onError: (err) => errors.push(err.message),
  });
  t.teardown(() => w.close());
  const lines = () => node.workerConns()[0]?.workerLines ?? [];
  await until(() => lines().filter((l) => l === 'PING').length >= 2, 10_000, 'a second PING');
  t.equal(node.workerConns().length, 1, 'the connection was kept');
  t.same(errors, ['x'], "only the node's ERR line was reported");
  t.equal(w.handled, 2, 'the two jobs ran, the PONG was not taken for one');
  t.same(
    lines().filter((l) => !l.startsWith('PING')),
    TICKETS.map((tk) => `DONE ${tk} done ${tk}`),
  );
});

t.test('petrel worker honours --reply-timeout on a frozen node', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const real = `127.0.0.1:${nodes[0]!.clientPort}`;
  const frozen = await fakeNode(t.teardown);
  const { child, done } = spawnPetrel([
    'worker',
    'upper',
    '--addr',
    `${frozen.addr},${real}`,
    '--reply-timeout',
    '300',
    '--',
    'echo',
  ]);
  let stderr = '';
  child.stderr?.on('data', (d: string) => (stderr += d));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await done;
  });
  await until(() => frozen.workerConns().length === 1, 10_000, 'the worker on the frozen node');
  const { c, ticket } = await submitWhenServed(real, t.teardown, 'upper', 'hello');
  t.match(await c.wait(ticket, { timeoutMs: 10_000 }), { state: 'done', output: 'hello\n' });
  t.match(
    stderr,
    `petrel worker: the node at ${frozen.addr} sent nothing for 300 ms after PING: the connection counts as hung; reconnecting\n`,
  );
});
