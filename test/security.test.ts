import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { helloProof } from '../shared/proof.js';
import { newTicket, TICKET_RE } from '../shared/ids.js';
import { isLoopback } from '../proxy/cluster-server.js';
import { execRefusal } from '../node/job-runner.js';
import {
  LineClient,
  spawnProxy,
  startCluster,
  startNode,
  tempDir,
  until,
} from './helpers/cluster.js';
import { fakeResult, heapUsedAfterGc, MB, RawNode, type Json } from './helpers/fuzz.js';

// Attacks on both ports: rogue and lying nodes at the proxy, clients without the token,
// exec tricks, clients that never read, too many clients, guessed tickets, idle sockets.
t.setTimeout(180_000);

const SECRET = 's3cret-for-tests-only';
const ticketOf = (reply: string) => /^OK (\S{26})$/.exec(reply)?.[1] ?? `(no ticket: ${reply})`;

t.test('isLoopback accepts loopback peers only', async (t) => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
    t.ok(isLoopback(a), `${a} is loopback`);
  }
  for (const a of [
    undefined,
    '',
    '10.0.0.1',
    '192.168.1.127',
    '::ffff:10.0.0.1',
    '0.0.0.0',
    '::',
    '1127.0.0.1',
    'fe80::1',
    '::2',
  ]) {
    t.notOk(isLoopback(a), `${String(a)} is not loopback`);
  }
});

t.test('a rogue node without the secret is refused and learns nothing', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2, {
    proxyEnv: { CLUSTER_SECRET: SECRET },
    nodeEnv: { CLUSTER_SECRET: SECRET },
  });
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const tk = ticketOf(await c.ask('SUBMIT echo the crown jewels'));
  t.match(await c.ask(`WAIT ${tk} 10000`), /"output":"the crown jewels"/);
  const submitted = proxy.scheduler.counters.submitted;
  const refused = proxy.clusterServer.refusedConnections;
  const url = `ws://127.0.0.1:${proxy.port}/cluster`;
  const rogues: RawNode[] = [];
  const rogue = async () => {
    const r = await RawNode.connect(url);
    t.teardown(() => r.terminate());
    rogues.push(r);
    return { r, nonce: await r.nonce() };
  };

  // one that never says HELLO is dropped after the deadline (5 s), checked at the end
  const silent = await rogue();

  const attempts: Array<[string, (r: RawNode, nonce: string) => void]> = [
    [
      'a proof made with the wrong secret',
      (r, n) => r.hello('rogue', { proof: helloProof('guess', n, 'rogue') }),
    ],
    [
      'a proof replayed from another nonce',
      (r) => r.hello('rogue', { proof: helloProof(SECRET, 'ab'.repeat(32), 'rogue') }),
    ],
    [
      'a proof for another node id',
      (r, n) => r.hello('n1', { proof: helloProof(SECRET, n, 'rogue') }),
    ],
  ];
  for (const [what, send] of attempts) {
    const { r, nonce } = await rogue();
    send(r, nonce);
    const closed = await r.closedWith();
    t.same(closed, { code: 4001, reason: 'wrong CLUSTER_SECRET proof' }, `refused: ${what}`);
  }
  // a node started without CLUSTER_SECRET, under any id, a real node's too
  for (const id of ['rogue', 'n1']) {
    const bare = await rogue();
    bare.r.hello(id);
    t.same(
      await bare.r.closedWith(),
      { code: 4001, reason: 'no CLUSTER_SECRET proof: the node has no secret' },
      `refused without proof (${id}), saying the node lacks the secret`,
    );
  }
  for (const frame of [
    {
      type: 'JOB',
      jobs: [
        { id: newTicket(), spec: { type: 'echo', args: ['x'] }, origin: 'rogue', submittedAt: 1 },
      ],
    },
    { type: 'REQUEST_OF_RES', ids: [tk], reqId: 1 },
    { type: 'CANCEL', ids: [tk], reqId: 2 },
    { type: 'RESULT', results: [fakeResult(tk, 'rogue')] },
  ] as Json[]) {
    const { r } = await rogue();
    r.send(frame);
    const closed = await r.closedWith();
    t.same(
      closed,
      { code: 1008, reason: `expected HELLO, got ${String(frame.type)}` },
      `${String(frame.type)} before HELLO`,
    );
  }
  t.same(await silent.r.closedWith(10_000), { code: 4008, reason: 'no HELLO in time' });

  for (const r of rogues) {
    const types = r.frames.map((f) => f.type);
    t.same(types, ['CHALLENGE'], 'a rogue heard nothing but the challenge');
  }
  t.equal(proxy.scheduler.counters.submitted, submitted, 'a rogue submitted nothing');
  t.equal(proxy.clusterServer.refusedConnections - refused, rogues.length, 'each was counted');
  t.match(
    await c.ask(`RESULT ${tk}`),
    /"state":"done".*"output":"the crown jewels"/,
    'not cancelled',
  );

  // a real node process with the wrong secret never joins
  const wrong = await startNode(t.teardown, proxy.port, {
    NODE_ID: 'wrong',
    CLUSTER_SECRET: 'nope',
  });
  await until(
    () => proxy.clusterServer.refusedConnections - refused > rogues.length,
    10_000,
    'the wrong-secret node to be refused',
  );
  t.notOk(proxy.scheduler.nodes.get('wrong')?.conn, 'a node with the wrong secret is not joined');
  t.equal(wrong.snapshot().proxyConnected, false);
  t.equal(proxy.scheduler.connectedNodes().length, 2, 'the real nodes are still joined');
});

t.test('one frame with a long UTF-8 error reason does not kill the proxy', async (t) => {
  // The close reason of an invalid frame is cut to 120 characters, but ws allows 123 *bytes*:
  // an unrecognised key made of emoji made the proxy throw (RangeError) and exit, before HELLO.
  const { proc, port } = await spawnProxy(t.teardown, tempDir(t.teardown), {
    CLUSTER_SECRET: SECRET,
  });
  const r = await RawNode.connect(`ws://127.0.0.1:${port}/cluster`);
  t.teardown(() => r.terminate());
  await r.nonce();
  r.send({ type: 'ACK', ['😀'.repeat(60)]: 1 });
  const closed = await r.closedWith();
  t.equal(closed.code, 1008, `closed as invalid (got ${closed.code} "${closed.reason}")`);
  t.ok(Buffer.byteLength(closed.reason) <= 123, 'with a reason that fits a close frame');
  const alive = await fetch(`http://127.0.0.1:${port}/healthz`).then(
    (res) => res.status === 200,
    () => false,
  );
  t.ok(alive && proc.child.exitCode === null, 'the proxy is alive');
  if (!alive) t.comment(proc.output.slice(-12).join('\n'));
});

t.test('an authenticated node reports results only for jobs it was given', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2);
  const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  const c1 = await LineClient.connect(n1.clientPort, t.teardown);
  const c2 = await LineClient.connect(n2.clientPort, t.teardown);
  const done = ticketOf(await c1.ask('SUBMIT echo genuine'));
  t.match(await c1.ask(`WAIT ${done} 10000`), /"output":"genuine"/);
  const running = ticketOf(await c1.ask('SUBMIT sleep 1500'));

  const r = await RawNode.connect(`ws://127.0.0.1:${proxy.port}/cluster`);
  t.teardown(() => r.terminate());
  await r.nonce();
  r.hello('rogue');
  await r.frame('WELCOME');
  const rejected = proxy.scheduler.counters.rejected;
  const claim = (id: string) => ({
    type: 'JOB',
    jobs: [
      {
        id,
        spec: { type: 'echo', args: ['x'] },
        origin: 'rogue',
        submittedAt: Date.now(),
        result: fakeResult(id, 'rogue'),
      },
    ],
  });
  r.send({ type: 'RESULT', results: [fakeResult(done, 'rogue'), fakeResult(running, 'rogue')] });
  r.send({
    type: 'JOB',
    jobs: [
      {
        id: newTicket(),
        spec: { type: 'echo', args: ['x'] },
        origin: 'n1',
        submittedAt: Date.now(),
      },
    ],
  });
  // the same lie told as "a job I forwarded and ran myself while the proxy was away"
  r.send(claim(done));
  r.send(claim(running));
  r.send({ type: 'REQUEST_OF_RES', ids: [], reqId: 99 });
  await r.wait(
    () => r.frames.find((f) => f.type === 'RES_REQ' && f.reqId === 99),
    10_000,
    'an answer',
  );
  t.notOk(r.closed, 'answered, not obeyed: the connection stays open');

  t.equal(
    proxy.scheduler.counters.rejected - rejected,
    5,
    'two results, one foreign origin and two claimed ids rejected',
  );
  t.notMatch(
    await c2.ask(`RESULT ${done}`),
    /FORGED/,
    'the finished job keeps its result (asked elsewhere)',
  );
  const w = await c1.ask(`WAIT ${running} 8000`, 12_000);
  t.match(w, /"state":"done"/, `the running job finishes with its real result: ${w}`);
  t.notMatch(w, /FORGED|rogue/);
  t.notMatch(await c2.ask(`RESULT ${running}`), /FORGED/, 'and every node agrees');
});

t.test('with CLIENT_TOKEN, nothing but AUTH, PING, HELP and QUIT works before AUTH', async (t) => {
  const token = 'open sesame';
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { CLIENT_TOKEN: token } });
  const port = nodes[0]!.clientPort;
  const good = await LineClient.connect(port, t.teardown);
  const c = await LineClient.connect(port, t.teardown);
  t.match(await good.ask(`AUTH ${token}`), /^OK authenticated$/);
  const tk = ticketOf(await good.ask('SUBMIT echo private'));
  t.match(await good.ask(`WAIT ${tk} 10000`), /"output":"private"/);

  const closed = [
    'SUBMIT echo x',
    `STATUS ${tk}`,
    `RESULT ${tk}`,
    `WAIT ${tk} 10`,
    `CANCEL ${tk}`,
    'LIST',
    'STATS',
    'getall',
    '500',
    `r${tk}`,
    'FROB',
    'exit',
    'submit {"type":"echo","args":["x"]}',
  ];
  for (const line of closed)
    t.match(await c.ask(line), /^ERR UNAUTHORIZED /, `${line} before AUTH`);
  t.equal(await c.ask('PING'), 'OK PONG');
  const help = await c.ask('HELP');
  t.match(help, /^OK \d+$/);
  for (let i = Number(help.slice(3)); i > 0; i--) await c.next();
  t.match(await c.ask(`AUTH ${token}x`), /^ERR UNAUTHORIZED wrong token$/, 'a wrong token');
  t.match(await c.ask('AUTH'), /^ERR BAD_REQUEST usage: AUTH <token>$/, 'no token');
  t.match(await c.ask(`auth ${token}`), /^OK authenticated$/, 'then the right one');
  t.match(await c.ask(`RESULT ${tk}`), /"output":"private"/, 'and everything works');
  t.match(await c.ask('LIST'), /^OK \d+$/);

  const guesser = await LineClient.connect(port, t.teardown);
  t.match(await guesser.ask('AUTH a'), /^ERR UNAUTHORIZED wrong token$/);
  t.match(await guesser.ask('AUTH b'), /^ERR UNAUTHORIZED wrong token$/);
  t.match(await guesser.ask('AUTH c'), /^ERR UNAUTHORIZED wrong token; closing$/);
  t.equal(await guesser.next(), null, 'three failures close the connection');

  const quitter = await LineClient.connect(port, t.teardown);
  t.equal(await quitter.ask('QUIT'), 'OK bye');
  t.equal(await quitter.next(), null);
});

t.test(
  'exec: only allowed programs, arguments passed literally, environment scrubbed',
  async (t) => {
    const dir = tempDir(t.teardown);
    const { nodes } = await startCluster(t.teardown, 1, {
      nodeEnv: { EXEC_ALLOW: 'echo,printf,env', CLIENT_TOKEN: 'tok-in-env' },
    });
    const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
    t.match(await c.ask('AUTH tok-in-env'), /^OK/);
    const refused: Array<[string, string]> = [
      ['SUBMIT exec ls', 'a program not listed'],
      ['SUBMIT exec sh -c id', 'a shell'],
      ['SUBMIT exec /bin/echo hi', 'an absolute path to a listed name'],
      ['SUBMIT exec ../../bin/echo hi', '../ tricks'],
      ['SUBMIT exec ./echo hi', 'a relative path'],
      ['SUBMIT exec bin/../echo hi', 'a path that normalises to a name'],
      ['SUBMIT exec /usr/bin/../bin/ls', 'an absolute path with ..'],
      ['SUBMIT {"type":"exec","args":["echo ","x"]}', 'a name with a trailing space'],
      ['SUBMIT {"type":"exec","args":["echo\\u0000","x"]}', 'a name with a NUL'],
      ['SUBMIT {"type":"exec","args":["ECHO"]}', 'another case'],
    ];
    for (const [line, what] of refused)
      t.match(await c.ask(line), /^ERR FORBIDDEN /, `refused: ${what}`);
    t.match(await c.ask('SUBMIT exec'), /^ERR BAD_REQUEST /, 'exec without a program');

    const run = async (line: string) => {
      const tk = ticketOf(await c.ask(line));
      return JSON.parse((await c.ask(`WAIT ${tk} 15000`)).slice(3)) as Json;
    };
    t.match(await run('SUBMIT exec echo hello'), { state: 'done', exitCode: 0, output: 'hello\n' });
    const canary = join(dir, 'pwned');
    const args = [';$(id)|&& `id`', `; touch ${canary}`, '$HOME *', '\'"\\'];
    const lit = await run(
      `SUBMIT ${JSON.stringify({ type: 'exec', args: ['printf', '%s|%s|%s|%s', ...args] })}`,
    );
    t.equal(lit.output, args.join('|'), 'metacharacters reach the program as they were sent');
    t.match(await run(`SUBMIT exec printf %s ;$(id)|&&$(touch${'${IFS}'}${canary})`), {
      output: `;$(id)|&&$(touch\${IFS}${canary})`,
    });
    t.notOk(existsSync(canary), 'no shell ran anything');
    const env = String((await run('SUBMIT exec env')).output);
    t.notMatch(env, /tok-in-env|CLIENT_TOKEN|CLUSTER_SECRET/, 'no secret of the node leaks in');
    t.match(env, /^PATH=/m);

    // the rule itself, for absolute entries in EXEC_ALLOW
    t.equal(execRefusal('/usr/bin/printf', ['/usr/bin/printf']), null);
    t.equal(execRefusal('/usr/bin/../bin/printf', ['/usr/bin/printf']), null, 'the same file');
    t.not(execRefusal('printf', ['/usr/bin/printf']), null, 'a bare name is not the path');
    t.not(execRefusal('/tmp/printf', ['/usr/bin/printf']), null, 'another directory');
    t.not(execRefusal('../printf', ['*']), null, 'relative paths even with *');
    t.not(execRefusal('echo', []), null, 'empty EXEC_ALLOW refuses everything');
  },
);

/** Memory this process holds: the node runs in it. */
function footprint(): number {
  const { heapUsed } = heapUsedAfterGc();
  const m = process.memoryUsage();
  return heapUsed + m.external + m.arrayBuffers;
}

t.test('a client that never reads cannot grow memory or disturb others', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { SLOTS: '4' } });
  const port = nodes[0]!.clientPort;
  const setup = await LineClient.connect(port, t.teardown);
  // 1,000 tickets, so that each LIST answers ~35 KiB: replies pile up fast
  setup.write(Array.from({ length: 1000 }, (_, i) => `SUBMIT echo pre-${i}\n`).join(''));
  let accepted = 0;
  for (let i = 0; i < 1000; i++) if (/^OK /.test((await setup.next()) ?? '')) accepted++;
  t.equal(accepted, 1000, '1,000 jobs submitted first');
  const before = footprint();

  const slow = net.connect(port, '127.0.0.1');
  t.teardown(() => slow.destroy());
  await new Promise((resolve) => slow.once('connect', resolve));
  const pad = 'p'.repeat(32 * 1024);
  const unit = (i: number) => `SUBMIT echo slow-${i}\nLIST\nSTATUS @m${i}:${pad}\n`;
  let units = 0;
  let stalled = false;
  const deadline = Date.now() + 60_000;
  while (!stalled && Date.now() < deadline && units < 5000) {
    if (slow.write(unit(units++))) continue;
    // the node stopped reading once its unsent replies passed the bound: the pipe fills up
    stalled = !(await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 1500);
      slow.once('drain', () => {
        clearTimeout(timer);
        resolve(true);
      });
    }));
  }
  t.ok(
    stalled,
    `the node stopped reading after ${units} units (${((units * unit(0).length) / MB).toFixed(1)} MiB sent)`,
  );
  const during = footprint();
  t.comment(
    `memory: ${(before / MB).toFixed(1)} MiB -> ${(during / MB).toFixed(1)} MiB while stalled`,
  );
  t.ok(during - before < 48 * MB, 'memory stays bounded while the client does not read');

  const other = await LineClient.connect(port, t.teardown);
  const started = Date.now();
  t.equal(await other.ask('PING'), 'OK PONG', 'another client is served');
  const tk = ticketOf(await other.ask('SUBMIT echo bystander'));
  t.match(await other.ask(`WAIT ${tk} 10000`), /"output":"bystander"/, 'and its jobs run');
  t.ok(Date.now() - started < 5000, 'promptly');

  // now read: every reply arrives, in order
  let partial = '';
  let pending: string[] = [];
  let next = 0;
  let listLeft = 0;
  let expect: 'submit' | 'list' | 'status' = 'submit';
  const bad: string[] = [];
  slow.setEncoding('utf8');
  slow.on('data', (chunk: string) => {
    pending = (partial + chunk).split('\n');
    partial = pending.pop() ?? '';
    for (const line of pending) {
      if (listLeft > 0) {
        listLeft--;
        continue;
      }
      if (expect === 'submit') {
        if (!/^OK [0-9A-Z]{26}$/.test(line) && bad.length < 5) bad.push(`unit ${next}: ${line}`);
        expect = 'list';
      } else if (expect === 'list') {
        listLeft = Number(/^OK (\d+)$/.exec(line)?.[1] ?? 0);
        expect = 'status';
      } else {
        if (!line.startsWith(`ERR BAD_REQUEST not a ticket: @m${next}:`) && bad.length < 5) {
          bad.push(`unit ${next}: ${line.slice(0, 80)}`);
        }
        next++;
        expect = 'submit';
      }
    }
  });
  await until(() => next >= units, 60_000, 'every reply to arrive');
  t.equal(next, units, `all ${units} units answered`);
  t.same(bad, [], 'in order');
});

t.test('MAX_CLIENTS: extra connections get ERR BUSY and are closed', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { MAX_CLIENTS: '3' } });
  const port = nodes[0]!.clientPort;
  const open = [];
  for (let i = 0; i < 3; i++) {
    const c = await LineClient.connect(port, t.teardown);
    t.equal(await c.ask('PING'), 'OK PONG');
    open.push(c);
  }
  for (let i = 0; i < 3; i++) {
    const extra = await LineClient.connect(port, t.teardown);
    t.match(await extra.next(), /^ERR BUSY /, 'refused with ERR BUSY');
    t.equal(await extra.next(), null, 'and closed');
  }
  open[0]!.close();
  await until(
    async () => {
      const c = await LineClient.connect(port, t.teardown);
      c.write('PING\n');
      const r = await c.next();
      c.close();
      return r === 'OK PONG';
    },
    10_000,
    'a freed place to be usable',
  );
  t.equal(await open[1]!.ask('PING'), 'OK PONG', 'the others were never disturbed');
});

t.test('tickets carry 80 random bits and cannot be guessed', async (t) => {
  const seen = new Set<string>();
  const ones = new Array<number>(80).fill(0);
  const N = 100_000;
  const now = Date.now();
  for (let i = 0; i < N; i++) {
    const tk = newTicket(now); // the same millisecond: only the random part differs
    seen.add(tk);
    const rnd = tk.slice(10);
    for (let c = 0; c < 16; c++) {
      const v = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(rnd[c] as string);
      for (let b = 0; b < 5; b++) if ((v >> b) & 1) ones[c * 5 + b]!++;
    }
  }
  t.equal(seen.size, N, `${N} tickets in one millisecond are distinct`);
  t.ok([...seen].every((s) => TICKET_RE.test(s)));
  const skew = Math.max(...ones.map((n) => Math.abs(n / N - 0.5)));
  t.ok(skew < 0.02, `each of the 80 random bits is a fair coin (worst skew ${skew.toFixed(4)})`);

  const { nodes } = await startCluster(t.teardown, 1);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const tk = ticketOf(await c.ask('SUBMIT echo mine'));
  await c.ask(`WAIT ${tk} 10000`);
  const last = tk[25] === '0' ? '1' : '0';
  t.match(
    await c.ask(`RESULT ${tk.slice(0, 25)}${last}`),
    /^ERR NOT_FOUND /,
    'a neighbour is not found',
  );
  t.match(await c.ask(`RESULT ${tk.slice(0, 10)}${'0'.repeat(16)}`), /^ERR NOT_FOUND /);
});

t.test('idle connections time out; busy and waiting ones do not', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { CLIENT_IDLE_TIMEOUT: '300' } });
  const port = nodes[0]!.clientPort;
  const idle = await LineClient.connect(port, t.teardown);
  const waiting = await LineClient.connect(port, t.teardown);
  const tk = ticketOf(await waiting.ask('SUBMIT sleep 900'));
  waiting.write(`WAIT ${tk} 5000\n`);
  t.equal(await idle.next(5000), 'ERR TIMEOUT idle connection closed');
  t.equal(await idle.next(5000), null, 'the idle connection is closed');
  t.match(await waiting.next(5000), /"state":"done"/, 'a long WAIT is not idleness');
  t.equal(await waiting.ask('PING'), 'OK PONG', 'and its connection lives on');
});

t.test('nothing after an oversized line is executed', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const port = nodes[0]!.clientPort;
  const count = async () => {
    const l = await LineClient.connect(port, t.teardown);
    const n = Number((await l.ask('LIST')).slice(3));
    for (let i = 0; i < n; i++) await l.next();
    l.close();
    return n;
  };
  const c = await LineClient.connect(port, t.teardown);
  const tk = ticketOf(await c.ask('SUBMIT sleep 400'));
  const before = await count();
  // a reply still owed (the WAIT) when the oversized line arrives, then, in a later TCP
  // segment (the pause only splits the writes; it synchronises nothing), more requests
  c.write(`WAIT ${tk} 5000\n${'x'.repeat(70_000)}`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  c.write(`\nSUBMIT echo after-too-large\n`);
  t.match(await c.next(), /"state":"done"/);
  t.match(await c.next(), /^ERR TOO_LARGE /);
  t.equal(await c.next(), null, 'closed');
  t.equal(await count(), before, 'the SUBMIT sent after the oversized line was not run');
});

t.test(
  'one write of 1,024 getall lines neither stalls the node nor piles up replies',
  async (t) => {
    const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { SLOTS: '4' } });
    const port = nodes[0]!.clientPort;
    const setup = await LineClient.connect(port, t.teardown);
    setup.write(Array.from({ length: 1000 }, (_, i) => `SUBMIT echo e${i}\n`).join(''));
    for (let i = 0; i < 1000; i++) await setup.next();
    await until(() => nodes[0]!.snapshot().openTickets === 0, 30_000, 'the 1,000 jobs to finish');
    const other = await LineClient.connect(port, t.teardown);
    t.equal(await other.ask('PING'), 'OK PONG');
    const attacker = net.connect(port, '127.0.0.1');
    t.teardown(() => attacker.destroy());
    await new Promise((resolve) => attacker.once('connect', resolve));
    const before = footprint();
    const joins = nodes[0]!.snapshot().proxyJoins;
    // 7 KiB of requests, each reading 1,000 tickets one query at a time, and never a read
    attacker.write('getall\n'.repeat(1024));
    await new Promise((resolve) => setImmediate(resolve));
    const started = Date.now();
    t.equal(await other.ask('PING', 30_000), 'OK PONG');
    t.comment(
      `a PING behind 1,024 getall lines on another connection took ${Date.now() - started} ms`,
    );
    t.ok(nodes[0]!.snapshot().proxyConnected, 'the node is still joined');
    t.equal(nodes[0]!.snapshot().proxyJoins, joins, 'the proxy never declared it dead meanwhile');
    const grew = footprint() - before;
    t.comment(`memory grew ${(grew / MB).toFixed(1)} MiB for a client that sent 7 KiB`);
    t.ok(grew < 32 * MB, 'replies to a client that does not read stay bounded (< 32 MiB)');
  },
);
