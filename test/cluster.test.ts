import t from 'tap';
import { LineClient, startCluster, until } from './helpers/cluster.js';

const TICKET = /^[0-9A-HJKMNP-TV-Z]{26}$/;

t.test('the seed dialect works unchanged', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const reply = await c.ask('500');
  const m = /^Ticket ID: (\S+)$/.exec(reply);
  t.ok(m, `"${reply}" is a seed ticket reply`);
  const ticket = m![1]!;
  t.match(ticket, TICKET);
  t.equal(await c.ask(`r${ticket}`), 'Result: NULL', 'not finished yet');
  const done = await until(
    async () => {
      const r = await c.ask(`r${ticket}`);
      return r !== 'Result: NULL' ? r : undefined;
    },
    10_000,
    'the sleep to finish',
  );
  t.match(
    done,
    new RegExp(`^Result: Executed Job\\[${ticket}\\] for 500 milliseconds from \\S+ to \\S+$`),
  );
  const [, from, to] = / from (\S+) to (\S+)$/.exec(done)!;
  const took = Date.parse(to!) - Date.parse(from!);
  t.ok(took >= 500 && took < 2000, `ran for about 500 ms (${took} ms)`);

  t.equal(
    await c.ask('rZZZZZZZZZZZZZZZZZZZZZZZZZZ'),
    'Result: This job could not be found on this node.',
  );
  t.equal(await c.ask('-1'), 'Please enter a valid number.');
  t.equal(await c.ask('12.5'), 'Please enter a valid number.');
  t.equal(await c.ask('999999999999999999'), 'Please enter a valid number.');

  c.write('getall\n');
  t.equal(await c.next(), 'Results');
  t.match(
    await c.next(),
    new RegExp(`^${ticket} -> Executed Job\\[${ticket}\\] for 500 milliseconds`),
  );
  t.equal(await c.next(), '', 'getall ends with an empty line');

  t.equal(await c.ask('exit'), 'Come back later to check your results.');
  t.equal(await c.next(), null, 'exit closes the connection');
});

t.test('SUBMIT, WAIT, RESULT and STATUS from any node', async (t) => {
  const { nodes } = await startCluster(t.teardown, 3);
  const a = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const b = await LineClient.connect(nodes[2]!.clientPort, t.teardown);
  const sub = await a.ask('SUBMIT echo hi');
  t.match(sub, /^OK [0-9A-Z]{26}$/);
  const ticket = sub.slice(3);
  const waited = await a.ask(`WAIT ${ticket} 10000`);
  t.match(waited, /^OK \{/);
  const view = JSON.parse(waited.slice(3)) as Record<string, unknown>;
  t.match(view, {
    ticket,
    state: 'done',
    output: 'hi',
    exitCode: 0,
    attempts: 1,
    node: String,
    submittedAt: String,
    startedAt: String,
    finishedAt: String,
  });
  t.equal(await a.ask(`STATUS ${ticket}`), 'OK done');
  t.equal(await b.ask(`STATUS ${ticket}`), 'OK done', 'another node answers the same');
  t.same(JSON.parse((await b.ask(`RESULT ${ticket}`)).slice(3)), view);
  t.same(
    JSON.parse((await b.ask(`WAIT ${ticket.toLowerCase()}`)).slice(3)),
    view,
    'tickets are case-insensitive',
  );

  // a WAIT from another node than the origin, while the job runs
  const slow = (await a.ask('SUBMIT sleep 300')).slice(3);
  t.match(await b.ask(`STATUS ${slow}`), /^OK (queued|running)$/);
  const remote = JSON.parse((await b.ask(`WAIT ${slow} 10000`)).slice(3)) as { state: string };
  t.equal(remote.state, 'done');
  t.equal(
    await b.ask(`WAIT ${(await a.ask('SUBMIT sleep 5000')).slice(3)} 50`),
    'ERR TIMEOUT not finished after 50 ms',
  );

  const json = await a.ask('SUBMIT {"type":"echo","args":["x","y"],"priority":5}');
  const jv = JSON.parse((await a.ask(`WAIT ${json.slice(3)}`)).slice(3)) as { output: string };
  t.equal(jv.output, 'x y');

  t.match(await a.ask('PING'), 'OK PONG');
  a.write('HELP\n');
  const help = await a.next();
  const n = Number(help?.slice(3));
  t.ok(n > 5, 'HELP says how many lines follow');
  for (let i = 0; i < n; i++) t.ok(await a.next());
  a.write('LIST\n');
  const listed = await a.next();
  t.match(listed, /^OK [1-9]\d*$/);
  const ids = [];
  for (let i = 0; i < Number(listed!.slice(3)); i++) {
    const row = (await a.next())!;
    t.match(row, /^[0-9A-Z]{26} (queued|running|done)$/);
    ids.push(row.slice(0, 26));
  }
  t.ok(ids.includes(ticket), 'LIST shows the tickets of this node');
  const stats = JSON.parse((await a.ask('STATS')).slice(3)) as { cluster: { nodes: unknown[] } };
  t.equal(stats.cluster.nodes.length, 3, 'STATS shows the cluster as the proxy sees it');
  t.equal(await a.ask('QUIT'), 'OK bye');
});

t.test('CANCEL a queued job and a running one', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { SLOTS: '1' } });
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const running = (await c.ask('SUBMIT sleep 20000')).slice(3);
  const queued = (await c.ask('SUBMIT sleep 20000')).slice(3);
  const third = (await c.ask('SUBMIT sleep 20000')).slice(3);
  await until(async () => (await c.ask(`STATUS ${running}`)) === 'OK running', 10_000, 'running');
  t.equal(await c.ask(`CANCEL ${third}`), 'OK cancelled');
  t.equal(await c.ask(`CANCEL ${running}`), 'OK cancelled');
  t.equal(await c.ask(`CANCEL ${queued}`), 'OK cancelled');
  const v = JSON.parse((await c.ask(`WAIT ${running} 5000`)).slice(3)) as { state: string };
  t.equal(v.state, 'cancelled');
  t.equal(await c.ask(`CANCEL ${running}`), 'OK cancelled', 'cancelling twice is harmless');
  t.equal(
    await c.ask('CANCEL 0000000000ZZZZZZZZZZZZZZZZ'),
    'ERR NOT_FOUND no such ticket: 0000000000ZZZZZZZZZZZZZZZZ',
  );
  // the slot is free again
  const after = (await c.ask('SUBMIT echo free')).slice(3);
  t.match(await c.ask(`WAIT ${after} 10000`), /"state":"done"/);
});

t.test('300 sleep jobs submitted to one node run on all three', async (t) => {
  const { nodes } = await startCluster(t.teardown, 3);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const lines = Array.from({ length: 300 }, () => 'SUBMIT sleep 50\n').join('');
  c.write(lines);
  const tickets: string[] = [];
  for (let i = 0; i < 300; i++) {
    const r = await c.next();
    t.match(r, /^OK /);
    tickets.push(r!.slice(3));
  }
  const perNode = new Map<string, number>();
  for (const ticket of tickets) {
    const v = JSON.parse((await c.ask(`WAIT ${ticket} 30000`)).slice(3)) as {
      node: string;
      state: string;
    };
    t.equal(v.state, 'done');
    perNode.set(v.node, (perNode.get(v.node) ?? 0) + 1);
  }
  t.equal(perNode.size, 3, 'all three nodes ran jobs');
  for (const [node, count] of perNode) t.ok(count >= 75, `${node} ran ${count} of 300`);
});

t.test('results older than RESULT_TTL are deleted everywhere', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2, {
    proxyEnv: { RESULT_TTL: '300' },
    nodeEnv: { RESULT_TTL: '300' },
  });
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const other = await LineClient.connect(nodes[1]!.clientPort, t.teardown);
  const ticket = (await c.ask('SUBMIT echo short-lived')).slice(3);
  t.match(await c.ask(`WAIT ${ticket} 10000`), /"state":"done"/);
  const kept = (await c.ask('SUBMIT sleep 2000')).slice(3);
  await until(
    async () => (await c.ask(`RESULT ${ticket}`)).startsWith('ERR NOT_FOUND'),
    10_000,
    'the origin to forget the result',
  );
  await until(
    async () => (await other.ask(`RESULT ${ticket}`)).startsWith('ERR NOT_FOUND'),
    10_000,
    'the proxy to forget it',
  );
  t.match(await c.ask(`STATUS ${kept}`), /^OK (queued|running)$/, 'unfinished jobs are kept');
});

t.test('the global queue runs higher priority first, then in arrival order', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, {
    nodeEnv: { SLOTS: '1' },
    proxyEnv: { PREFETCH: '0' },
  });
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const blocker = (await c.ask('SUBMIT sleep 400')).slice(3);
  await until(async () => (await c.ask(`STATUS ${blocker}`)) === 'OK running');
  const submit = async (priority: number) =>
    (await c.ask(`SUBMIT {"type":"echo","args":["p${priority}"],"priority":${priority}}`)).slice(3);
  const low1 = await submit(0);
  const high = await submit(5);
  const low2 = await submit(0);
  const started = async (tk: string) =>
    Date.parse(
      (JSON.parse((await c.ask(`WAIT ${tk} 10000`)).slice(3)) as { startedAt: string }).startedAt,
    );
  const [tl1, th, tl2] = [await started(low1), await started(high), await started(low2)];
  t.ok(th <= tl1, 'the high-priority job started first');
  t.ok(tl1 <= tl2, 'equal priorities run in arrival order');
});
