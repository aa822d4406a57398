import t from 'tap';
import {
  LineClient,
  serveNodeHttp,
  startCluster,
  startNode,
  startProxy,
  until,
} from './helpers/cluster.js';

const NOT_FOUND_SEED = 'Result: This job could not be found on this node.';

/** Reads an `OK <n>` reply and its n lines. */
async function many(c: LineClient): Promise<string[]> {
  const head = (await c.next()) ?? '';
  const n = /^OK (\d+)$/.exec(head);
  if (!n) throw new Error(`not a listing: ${head}`);
  const lines: string[] = [];
  for (let i = 0; i < Number(n[1]); i++) lines.push((await c.next()) ?? '');
  return lines;
}

/** Reads `Results`, then lines up to the empty line. */
async function getall(c: LineClient): Promise<string[]> {
  const head = await c.next();
  if (head !== 'Results') throw new Error(`not getall: ${head}`);
  const lines: string[] = [];
  for (let l = await c.next(); l !== '' && l !== null; l = await c.next()) lines.push(l);
  return lines;
}

t.test('a ticket argument that is not a ticket is BAD_REQUEST, usage is exact', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  for (const verb of ['STATUS', 'RESULT', 'WAIT', 'CANCEL', 'RETRY', 'LOGS', 'TAIL']) {
    t.match(await c.ask(`${verb} notaticket`), /^ERR BAD_REQUEST not a ticket: notaticket/, verb);
  }
  t.match(await c.ask('STATUS 0000000000ZZZZZZZZZZZZZZZZ'), /^ERR NOT_FOUND /, 'unknown ticket');
  t.equal(await c.ask('STATUS'), 'ERR BAD_REQUEST usage: STATUS <ticket>');
  t.equal(await c.ask('WAIT'), 'ERR BAD_REQUEST usage: WAIT <ticket> [timeoutMs]');
  t.equal(await c.ask('LOGS'), 'ERR BAD_REQUEST usage: LOGS <ticket> [task] [streams]');
  t.equal(await c.ask('TAIL'), 'ERR BAD_REQUEST usage: TAIL <ticket> [task] [streams]');

  const tk = (await c.ask('SUBMIT echo hi')).slice(3);
  t.match(await c.ask(`WAIT ${tk} 10000`), /"state":"done"/);
  t.equal(await c.ask(`WAIT ${tk} 100 extra`), 'ERR BAD_REQUEST usage: WAIT <ticket> [timeoutMs]');
  t.equal(await c.ask(`STATUS ${tk} extra`), 'ERR BAD_REQUEST usage: STATUS <ticket>');
  t.equal(await c.ask(`RESULT ${tk} ${tk}`), 'ERR BAD_REQUEST usage: RESULT <ticket>');
  t.equal(await c.ask('STATS now'), 'ERR BAD_REQUEST usage: STATS');
  t.equal(await c.ask(`STATUS ${tk.toLowerCase()}`), 'OK done', 'a ticket in lower case');
});

t.test("the seed's r<text> for a non-ticket is the seed's not-found line", async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  for (const line of ['rnotaticket', 'r', 'rXXXX', 'r00000000000000000000000000', 'r-1']) {
    t.equal(await c.ask(line), NOT_FOUND_SEED, line);
  }
  const tk = (await c.ask('SUBMIT echo seed')).slice(3);
  t.match(await c.ask(`WAIT ${tk} 10000`), /"state":"done"/);
  t.match(await c.ask(`r${tk}`), /^Result: Executed Job\[/, 'a ticket still reads its result');
  // the verbs that start with r stay verbs, in any case
  t.equal(await c.ask('result'), 'ERR BAD_REQUEST usage: RESULT <ticket>');
  t.equal(await c.ask('retry'), 'ERR BAD_REQUEST usage: RETRY <ticket>');
  t.equal(await c.ask('Result'), 'ERR BAD_REQUEST usage: RESULT <ticket>');
  t.match(await c.ask(`result ${tk}`), /^OK \{/);
  t.match(await c.ask('ROGUE'), /^ERR UNKNOWN_COMMAND /, 'an unknown word in capitals');
});

t.test('AUTH without a token is a usage error, and not a failed attempt', async (t) => {
  const proxy = await startProxy(t.teardown);
  const node = await startNode(t.teardown, proxy.port, { CLIENT_TOKEN: 'sesame' });
  const c = await LineClient.connect(node.clientPort, t.teardown);
  for (let i = 0; i < 5; i++) {
    t.equal(await c.ask('AUTH'), 'ERR BAD_REQUEST usage: AUTH <token>');
  }
  t.equal(await c.ask('AUTH sesame'), 'OK authenticated', 'still open, and the token works');
  const open = await startNode(t.teardown, proxy.port);
  const o = await LineClient.connect(open.clientPort, t.teardown);
  t.equal(await o.ask('AUTH'), 'ERR BAD_REQUEST usage: AUTH <token>');
  t.equal(await o.ask('AUTH x'), 'OK no token required');
});

t.test('LIST and GET /v1/jobs show each job in the state STATUS gives it', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { SLOTS: '1' } });
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const submit = async (line: string) => (await c.ask(line)).slice(3);
  const done = await submit('SUBMIT echo now');
  t.match(await c.ask(`WAIT ${done} 10000`), /"state":"done"/);
  // one slot: one sleep runs, the next waits its turn
  const running = await submit('SUBMIT sleep 60000');
  await until(async () => (await c.ask(`STATUS ${running}`)) === 'OK running');
  const queued = await submit('SUBMIT sleep 60000');
  const scheduled = await submit('SUBMIT {"type":"echo","args":["later"],"delayMs":600000}');
  const blocked = await submit(`SUBMIT {"type":"echo","args":["then"],"after":["${running}"]}`);
  const want: Record<string, string> = { running, queued, scheduled, blocked, done };
  // the proxy learns each state as it happens: wait until STATUS says what is expected
  for (const [state, tk] of Object.entries(want)) {
    await until(async () => (await c.ask(`STATUS ${tk}`)) === `OK ${state}`, 10_000, state);
  }
  c.write('LIST\n');
  const rows = new Map((await many(c)).map((l) => l.split(' ') as [string, string]));
  for (const [state, tk] of Object.entries(want)) {
    t.equal(rows.get(tk), state, `LIST shows the ${state} job as ${state}`);
    c.write(`LIST ${state}\n`);
    t.ok((await many(c)).includes(`${tk} ${state}`), `LIST ${state} has it`);
  }
  const listed = (await (await fetch(`${base}/v1/jobs`)).json()) as {
    jobs: Array<{ ticket: string; state: string; node?: string }>;
  };
  const views = new Map(listed.jobs.map((j) => [j.ticket, j]));
  for (const [state, tk] of Object.entries(want)) {
    t.equal(views.get(tk)?.state, state, `GET /v1/jobs shows the ${state} job as ${state}`);
    const only = (await (await fetch(`${base}/v1/jobs?state=${state}`)).json()) as typeof listed;
    t.ok(
      only.jobs.some((j) => j.ticket === tk),
      `GET /v1/jobs?state=${state} has it`,
    );
  }
  t.ok(views.get(running)?.node, 'the running job names its node');
  await c.ask(`CANCEL ${queued}`);
  await c.ask(`CANCEL ${running}`);
});

t.test('a read pipelined after a write on one connection sees the write', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  for (let round = 0; round < 3; round++) {
    c.write('SUBMIT sleep 2000\nLIST\nLIST queued\ngetall\n');
    const tk = ((await c.next()) ?? '').slice(3);
    t.match(tk, /^[0-9A-Z]{26}$/);
    t.ok(
      (await many(c)).some((l) => l.startsWith(`${tk} `)),
      `round ${round}: LIST has the ticket`,
    );
    await many(c); // the state may already have moved on from queued
    t.ok((await getall(c)).includes(`${tk} -> NULL`), `round ${round}: getall has the ticket`);
  }
  // the seed's users: two jobs, then getall, in one go
  c.write('300\n0\ngetall\n');
  const first = ((await c.next()) ?? '').replace('Ticket ID: ', '');
  const second = ((await c.next()) ?? '').replace('Ticket ID: ', '');
  const listed = (await getall(c)).map((l) => l.split(' ')[0]);
  t.ok(listed.includes(first) && listed.includes(second), 'getall has both new tickets');
  // and a status read the moment its ticket arrives
  c.write('SUBMIT echo quick\n');
  const quick = ((await c.next()) ?? '').slice(3);
  c.write(`STATUS ${quick}\nRESULT ${quick}\nLOGS ${quick}\n`);
  t.match(await c.next(), /^OK (queued|running|done)$/);
  t.match(await c.next(), new RegExp(`^OK \\{"ticket":"${quick}"`));
  t.match(await c.next(), /^OK \d+$/);
});

t.test('a task a job does not have is BAD_REQUEST, with or without tasks', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const plain = (await c.ask('SUBMIT echo one')).slice(3);
  const tasks = (
    await c.ask('SUBMIT {"tasks":[{"type":"echo","args":["a"]},{"type":"echo","args":["b"]}]}')
  ).slice(3);
  t.match(await c.ask(`WAIT ${plain} 10000`), /"state":"done"/);
  t.match(await c.ask(`WAIT ${tasks} 10000`), /"state":"done"/);
  t.match(await c.ask(`LOGS ${plain} 1`), /^ERR BAD_REQUEST .*only task is 0/);
  t.match(await c.ask(`LOGS ${tasks} 2`), /^ERR BAD_REQUEST .*has tasks 0-1/);
  t.match(await c.ask(`TAIL ${plain} 1`), /^ERR BAD_REQUEST .*only task is 0/);
  t.match(await c.ask(`TAIL ${tasks} 2`), /^ERR BAD_REQUEST .*has tasks 0-1/);
  for (const url of [`${plain}/logs?task=1`, `${tasks}/logs?task=2`]) {
    const res = await fetch(`${base}/v1/jobs/${url}`);
    t.equal(res.status, 400, url);
    t.match(await res.json(), { error: { code: 'BAD_REQUEST' } });
  }
});
