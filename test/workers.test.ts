import t from 'tap';
import {
  freePort,
  LineClient,
  startCluster,
  startNode,
  startProxy,
  tempDir,
  until,
} from './helpers/cluster.js';

const JOB_RE = /^JOB ([0-9A-Z]{26}) (\{.*\})$/;

/** A worker connection made of a line client: WORKER, then JOB lines as they come. */
async function worker(port: number, type: string, n = 1, teardown?: (fn: () => unknown) => void) {
  const c = await LineClient.connect(port, teardown);
  const ok = await c.ask(`WORKER ${type} ${n}`);
  if (ok !== 'OK worker') throw new Error(`WORKER answered ${ok}`);
  return c;
}

/** The next JOB line a worker receives: its ticket and body. */
async function nextJob(c: LineClient, ms = 10_000) {
  const line = await c.next(ms);
  const m = line === null ? null : JOB_RE.exec(line);
  if (!m) throw new Error(`expected a JOB line, got ${line}`);
  return { ticket: m[1] as string, body: JSON.parse(m[2] as string) as Record<string, unknown> };
}

async function submit(c: LineClient, line: string): Promise<string> {
  const r = await c.ask(line);
  if (!/^OK [0-9A-Z]{26}$/.test(r)) throw new Error(`${line} answered ${r}`);
  return r.slice(3);
}

async function waitView(c: LineClient, ticket: string) {
  const r = await c.ask(`WAIT ${ticket} 20000`, 25_000);
  if (!r.startsWith('OK ')) throw new Error(`WAIT answered ${r}`);
  return JSON.parse(r.slice(3)) as Record<string, unknown>;
}

t.test('WORKER: a type becomes known cluster-wide, jobs flow, bad lines get ERR', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const client = await LineClient.connect(nodes[1]!.clientPort, t.teardown);
  t.match(await client.ask('SUBMIT resize a.png'), /^ERR BAD_REQUEST unknown job type resize/);
  const bad = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  t.match(await bad.ask('WORKER'), /^ERR BAD_REQUEST usage: WORKER <type>/);
  t.match(await bad.ask('WORKER exec'), /^ERR BAD_REQUEST exec is built in/);
  t.match(await bad.ask('WORKER Resize!'), /^ERR BAD_REQUEST a job type is/);
  t.match(await bad.ask('WORKER resize 0'), /^ERR BAD_REQUEST concurrency/);

  const w = await worker(nodes[0]!.clientPort, 'resize', 1, t.teardown);
  const ticket = await submit(
    client,
    'SUBMIT {"type":"resize","args":["a.png",300],"env":{"Q":"9"},"stdin":"in","timeoutMs":60000}',
  );
  const job = await nextJob(w);
  t.equal(job.ticket, ticket);
  t.same(job.body, {
    type: 'resize',
    args: ['a.png', '300'],
    attempt: 1,
    env: { Q: '9' },
    stdin: 'in',
    timeoutMs: 60000,
  });
  t.match(await w.ask('HELLO'), /^ERR UNKNOWN_COMMAND "HELLO" on a worker connection/);
  t.match(await w.ask('DONE nope'), /^ERR BAD_REQUEST not a ticket: nope/);
  t.match(await w.ask(`PROGRESS ${ticket} 300`), /^ERR BAD_REQUEST progress is a number/);
  t.match(await w.ask(`DONE ${ticket} "bad`), /^ERR BAD_REQUEST text that starts with "/);
  t.equal(await w.ask('PING'), 'OK PONG', 'the connection still works');
  w.write(`PROGRESS ${ticket} 50\nDONE ${ticket} "resized\\nto 300"\n`);
  const view = await waitView(client, ticket);
  t.match(view, { state: 'done', exitCode: 0, output: 'resized\nto 300', node: 'n1', attempts: 1 });
  t.equal(await client.ask(`LOGS ${ticket} streams`), 'OK 2', "a worker's output is stdout");
  t.same([await client.next(), await client.next()], ['> resized', '> to 300']);
  t.match(await w.ask(`DONE ${ticket} again`), /^ERR NOT_FOUND .* is not held by this worker/);

  const failed = await submit(client, 'SUBMIT resize b.png');
  t.equal((await nextJob(w)).ticket, failed);
  w.write(`FAIL ${failed} no such file b.png\n`);
  t.match(await waitView(client, failed), { state: 'failed', error: 'no such file b.png' });
  t.equal(await w.ask('QUIT'), 'OK bye');
});

t.test('custom jobs go only to nodes with a worker of their type, balanced', async (t) => {
  const { nodes } = await startCluster(t.teardown, 3);
  const client = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const w2 = await worker(nodes[1]!.clientPort, 'thumb', 2, t.teardown);
  const w3 = await worker(nodes[2]!.clientPort, 'thumb', 2, t.teardown);
  const tickets: string[] = [];
  for (let i = 0; i < 4; i++) tickets.push(await submit(client, `SUBMIT thumb ${i}`));
  // jobs are held, not answered: the proxy must spread four over two nodes of capacity two
  const got2 = [await nextJob(w2), await nextJob(w2)];
  const got3 = [await nextJob(w3), await nextJob(w3)];
  t.same(
    [...got2, ...got3].map((j) => j.ticket).sort(),
    [...tickets].sort(),
    'each node’s worker got two of the four',
  );
  for (const j of got2) w2.write(`DONE ${j.ticket} by w2\n`);
  for (const j of got3) w3.write(`DONE ${j.ticket} by w3\n`);
  for (const ticket of tickets) {
    const v = await waitView(client, ticket);
    t.ok(v.node === 'n2' || v.node === 'n3', `${ticket} ran where a worker serves thumb`);
  }
  // exec jobs still go anywhere, custom jobs never to n1
  const more: string[] = [];
  for (let i = 0; i < 6; i++) more.push(await submit(client, `SUBMIT thumb x${i}`));
  const answer = (w: LineClient, name: string) => {
    void (async () => {
      for (;;) {
        const line = await w.next(30_000).catch(() => null);
        if (line === null) return;
        const m = JOB_RE.exec(line);
        if (m) w.write(`DONE ${m[1]} ${name}\n`);
      }
    })();
  };
  answer(w2, 'w2');
  answer(w3, 'w3');
  for (const ticket of more) t.not((await waitView(client, ticket)).node, 'n1');
});

t.test('a worker that disconnects or stays silent loses its job to another', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const client = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const a = await worker(nodes[0]!.clientPort, 'render', 1, t.teardown);
  const ticket = await submit(client, 'SUBMIT render scene-1');
  t.equal((await nextJob(a)).ticket, ticket);
  const b = await worker(nodes[1]!.clientPort, 'render', 1, t.teardown);
  a.socket.destroy(); // killed mid-job
  const again = await nextJob(b);
  t.equal(again.ticket, ticket, 'the other worker gets the job');
  t.equal(again.body.attempt, 2, 'as its second attempt');
  b.write(`DONE ${ticket} rendered\n`);
  const view = await waitView(client, ticket);
  t.match(view, { state: 'done', output: 'rendered', node: 'n2', attempts: 2 });

  // silence past timeoutMs: the job moves on; the late answer is refused and changes nothing
  const slow = await submit(client, 'SUBMIT {"type":"render","args":["s"],"timeoutMs":300}');
  t.equal((await nextJob(b)).ticket, slow);
  const c = await worker(nodes[1]!.clientPort, 'render', 1, t.teardown);
  t.equal(await b.next(), `CANCEL ${slow}`, 'the silent worker is told');
  const moved = await nextJob(c);
  t.equal(moved.ticket, slow, 'the other worker gets it');
  t.match(await b.ask(`DONE ${slow} late`), /^ERR NOT_FOUND/);
  c.write(`DONE ${slow} on time\n`);
  t.match(await waitView(client, slow), { state: 'done', output: 'on time', attempts: 2 });
});

t.test('with no worker left, a job waits queued and says why', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const client = await LineClient.connect(nodes[1]!.clientPort, t.teardown);
  const w = await worker(nodes[0]!.clientPort, 'ocr', 1, t.teardown);
  w.close();
  const ticket = await submit(client, 'SUBMIT ocr page.tif');
  const view = await until(async () => {
    const v = JSON.parse((await client.ask(`RESULT ${ticket}`)).slice(3)) as Record<
      string,
      unknown
    >;
    return v.waiting ? v : undefined;
  });
  t.match(view, { state: 'queued', waiting: 'no worker for type ocr' });
  const back = await worker(nodes[1]!.clientPort, 'ocr', 1, t.teardown);
  t.equal((await nextJob(back)).ticket, ticket, 'a new worker takes it');
  back.write(`DONE ${ticket} text\n`);
  t.match(await waitView(client, ticket), { state: 'done', output: 'text' });
});

t.test('the list of types survives a proxy restart and reaches new nodes', async (t) => {
  const dir = tempDir(t.teardown);
  const proxy = await startProxy(t.teardown, {}, dir);
  const n1 = await startNode(t.teardown, proxy.port, { NODE_ID: 'n1' });
  const w = await worker(n1.clientPort, 'transcode', 1, t.teardown);
  w.close();
  await proxy.close();
  const again = await startProxy(t.teardown, {}, dir);
  const fresh = await startNode(t.teardown, again.port, { NODE_ID: 'n9' });
  const c = await LineClient.connect(fresh.clientPort, t.teardown);
  const reply = await until(async () => {
    const r = await c.ask('SUBMIT transcode a.mp4');
    return r.startsWith('OK') ? r : undefined;
  });
  t.match(reply, /^OK [0-9A-Z]{26}$/, 'a node that never saw a worker accepts the known type');
  t.match(await c.ask('SUBMIT nosuch x'), /^ERR BAD_REQUEST unknown job type nosuch/);
});

t.test('a worker needs AUTH when a token is set, and is never closed as idle', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 1, {
    nodeEnv: { CLIENT_TOKEN: 'sesame', CLIENT_IDLE_TIMEOUT: '300' },
  });
  const w = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  t.match(await w.ask('WORKER scan 2'), /^ERR UNAUTHORIZED/);
  t.equal(await w.ask('AUTH sesame'), 'OK authenticated');
  t.equal(await w.ask('WORKER scan 2'), 'OK worker');
  // a plain client left idle is closed; the worker, idle as long, is not
  const idle = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  t.match(await idle.next(10_000), /^ERR TIMEOUT idle connection closed/);
  t.equal(await idle.next(), null);
  t.equal(await w.ask('PING'), 'OK PONG', 'the worker is still connected');
  const res = await fetch(`http://127.0.0.1:${proxy.port}/api/cluster`);
  const cluster = (await res.json()) as { types: string[]; nodes: Array<{ workers: object }> };
  t.same(cluster.types, ['scan'], '/api/cluster lists the known types');
  t.same(cluster.nodes[0]?.workers, { scan: 2 }, 'and what each node serves');
});

t.test('without the proxy, a node runs custom jobs on its own workers; others wait', async (t) => {
  const port = await freePort();
  const dir = tempDir(t.teardown);
  const proxy = await startProxy(t.teardown, { PROXY_PORT: String(port) }, dir);
  const node = await startNode(t.teardown, port, { NODE_ID: 'n1', LOCAL_FALLBACK: '300' });
  const here = await worker(node.clientPort, 'here', 1, t.teardown);
  const gone = await worker(node.clientPort, 'elsewhere', 1, t.teardown);
  gone.close();
  const c = await LineClient.connect(node.clientPort, t.teardown);
  await proxy.close();
  await until(() => node.snapshot().localFallback, 10_000, 'local fallback');
  const local = await submit(c, 'SUBMIT here x');
  t.equal((await nextJob(here)).ticket, local, 'its own worker gets the job');
  here.write(`DONE ${local} ran alone\n`);
  t.match(await waitView(c, local), { state: 'done', output: 'ran alone', node: 'n1' });
  const later = await submit(c, 'SUBMIT elsewhere y');
  t.equal(await c.ask(`STATUS ${later}`), 'OK queued', 'no worker here: it waits, not fails');
  await startProxy(t.teardown, { PROXY_PORT: String(port) }, dir);
  const back = await worker(node.clientPort, 'elsewhere', 1, t.teardown);
  t.equal((await nextJob(back)).ticket, later, 'placed once the proxy is back');
  back.write(`DONE ${later} placed\n`);
  t.match(await waitView(c, later), { state: 'done', output: 'placed' });
});

t.test('constraints: custom jobs go only to serving nodes with the labels asked for', async (t) => {
  const proxy = await startProxy(t.teardown);
  const plain = await startNode(t.teardown, proxy.port, { NODE_ID: 'n1' });
  const gpu = await startNode(t.teardown, proxy.port, { NODE_ID: 'n2', NODE_LABELS: 'gpu' });
  const c = await LineClient.connect(plain.clientPort, t.teardown);
  const answer = async (w: LineClient, name: string) => {
    for (;;) {
      const line = await w.next(30_000).catch(() => null);
      if (line === null) return;
      const m = JOB_RE.exec(line);
      if (m) w.write(`DONE ${m[1]} ${name}\n`);
    }
  };
  void answer(await worker(plain.clientPort, 'infer', 2, t.teardown), 'plain');
  void answer(await worker(gpu.clientPort, 'infer', 2, t.teardown), 'gpu');
  for (let i = 0; i < 4; i++) {
    const ticket = await submit(c, 'SUBMIT {"type":"infer","constraints":{"labels":["gpu"]}}');
    t.match(await waitView(c, ticket), { state: 'done', output: 'gpu', node: 'n2' });
  }
  const never = await submit(c, 'SUBMIT {"type":"infer","constraints":{"labels":["tpu"]}}');
  const v = await until(async () => {
    const r = JSON.parse((await c.ask(`RESULT ${never}`)).slice(3)) as Record<string, unknown>;
    return r.waiting ? r : undefined;
  });
  t.match(v, { state: 'queued', waiting: 'no node with a worker for type infer has labels tpu' });
  const free = await submit(c, 'SUBMIT infer any');
  t.match(await waitView(c, free), { state: 'done' }, 'the waiting class blocks no other');
});
