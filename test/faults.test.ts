import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  startCluster,
  freePort,
  LineClient,
  startOnDataDir,
  spawnNode,
  spawnProxy,
  tempDir,
  until,
} from './helpers/cluster.js';

interface View {
  state: string;
  node?: string;
  error?: string;
  attempts: number;
}

const view = async (c: LineClient, ticket: string): Promise<View> =>
  JSON.parse((await c.ask(`RESULT ${ticket}`)).slice(3)) as View;

async function cluster(port: number): Promise<{
  totals: Record<string, number>;
  nodes: Array<{ id: string; connected: boolean; outstanding: number }>;
}> {
  const res = await fetch(`http://127.0.0.1:${port}/api/cluster`);
  return (await res.json()) as never;
}

t.test('a node killed with jobs queued and running: they run elsewhere', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'a' });
  // b's jobs go through the proxy, which gives some to a
  const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'b',
    SLOTS: '6',
    LOCAL_START: '0',
  });
  const c = await LineClient.connect(b.port, t.teardown);
  const tickets: string[] = [];
  for (let i = 0; i < 6; i++) tickets.push((await c.ask('SUBMIT sleep 1500')).slice(3));
  // a holds some of them (running and queued)
  const onA = await until(async () => {
    const s = await cluster(proxy.port);
    const n = s.nodes.find((x) => x.id === 'a');
    return n && n.outstanding >= 1 ? n.outstanding : 0;
  });
  const killedAt = Date.now();
  await a.proc.kill('SIGKILL');
  await until(
    async () => {
      const s = await cluster(proxy.port);
      return s.nodes.find((x) => x.id === 'b')!.outstanding === 6;
    },
    10_000,
    'a’s jobs back on b',
  );
  t.comment(`node crash: ${onA} jobs on b ${Date.now() - killedAt} ms after the kill`);
  for (const tk of tickets) {
    const v = JSON.parse((await c.ask(`WAIT ${tk} 20000`)).slice(3)) as View;
    t.equal(v.state, 'done');
    t.equal(v.node, 'b');
  }
});

t.test(
  'a hung node is declared dead, its jobs rerun, and its late copy is a counted duplicate',
  async (t) => {
    const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), { NODE_TIMEOUT: '400' });
    const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
      NODE_ID: 'a',
      SLOTS: '1',
    });
    const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
      NODE_ID: 'b',
      SLOTS: '1',
    });
    const c = await LineClient.connect(b.port, t.teardown);
    const tickets = [
      (await c.ask('SUBMIT sleep 600')).slice(3),
      (await c.ask('SUBMIT sleep 600')).slice(3),
    ];
    const onA = await until(async () => {
      for (const tk of tickets) {
        const v = await view(c, tk);
        if (v.state === 'running' && v.node === 'a') return tk;
      }
      return undefined;
    });
    const stoppedAt = Date.now();
    a.proc.child.kill('SIGSTOP');
    t.teardown(() => a.proc.child.kill('SIGCONT'));
    await until(async () => (await view(c, onA)).node === 'b', 10_000, 'the job to move to b');
    t.comment(
      `hang: job running on b ${Date.now() - stoppedAt} ms after SIGSTOP (NODE_TIMEOUT 400)`,
    );
    const done = JSON.parse((await c.ask(`WAIT ${onA} 20000`)).slice(3)) as View;
    t.equal(done.state, 'done');
    t.equal(done.node, 'b');
    a.proc.child.kill('SIGCONT');
    await until(
      async () => (await cluster(proxy.port)).totals.duplicates === 1,
      10_000,
      'the duplicate count',
    );
    await until(
      async () => (await cluster(proxy.port)).nodes.find((n) => n.id === 'a')?.connected,
      10_000,
      'a to rejoin',
    );
    t.same(JSON.parse((await c.ask(`RESULT ${onA}`)).slice(3)), done, 'the first result stands');
    for (const tk of tickets) t.match(await c.ask(`WAIT ${tk} 20000`), /"state":"done"/);
  },
);

t.test('a node restarted at once carries on with what it held', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const dir = tempDir(t.teardown);
  const a = await spawnNode(t.teardown, proxy.port, dir, { NODE_ID: 'a' });
  const c = await LineClient.connect(a.port, t.teardown);
  const tickets: string[] = [];
  for (let i = 0; i < 10; i++) tickets.push((await c.ask('SUBMIT sleep 300')).slice(3));
  await a.proc.kill('SIGKILL');
  const again = await spawnNode(t.teardown, proxy.port, dir, { NODE_ID: 'a' });
  const c2 = await LineClient.connect(again.port, t.teardown);
  for (const tk of tickets) t.match(await c2.ask(`WAIT ${tk} 20000`), /"state":"done"/);
});

t.test('the proxy killed and restarted: nothing lost, nodes rejoin by themselves', async (t) => {
  const port = await freePort();
  const proxyDir = tempDir(t.teardown);
  const proxy = await spawnProxy(t.teardown, proxyDir, {}, port);
  const nodes = [
    await spawnNode(t.teardown, port, tempDir(t.teardown), { NODE_ID: 'a' }),
    await spawnNode(t.teardown, port, tempDir(t.teardown), { NODE_ID: 'b' }),
  ];
  const clients = await Promise.all(nodes.map((n) => LineClient.connect(n.port, t.teardown)));
  const tickets: Array<[LineClient, string]> = [];
  for (let i = 0; i < 40; i++) {
    const c = clients[i % 2]!;
    tickets.push([c, (await c.ask(`SUBMIT sleep ${50 + (i % 5) * 50}`)).slice(3)]);
  }
  await proxy.proc.kill('SIGKILL');
  // tickets are still issued while the proxy is away
  for (let i = 0; i < 10; i++) {
    const c = clients[i % 2]!;
    tickets.push([c, (await c.ask('SUBMIT echo while away')).slice(3)]);
  }
  const restartedAt = Date.now();
  const again = await spawnProxy(t.teardown, proxyDir, {}, port);
  await until(
    async () => (await cluster(again.port)).nodes.filter((n) => n.connected).length === 2,
    10_000,
    'rejoin',
  );
  t.comment(`proxy restart: both nodes rejoined ${Date.now() - restartedAt} ms after it started`);
  for (const [c, tk] of tickets) t.match(await c.ask(`WAIT ${tk} 20000`), /"state":"done"/);
  t.equal((await cluster(again.port)).totals.submitted, 50, 'every job reached the proxy once');
});

t.test(
  'the proxy gone for long: nodes run their own jobs and report them on its return',
  async (t) => {
    const port = await freePort();
    const proxyDir = tempDir(t.teardown);
    const proxy = await spawnProxy(t.teardown, proxyDir, {}, port);
    const a = await spawnNode(t.teardown, port, tempDir(t.teardown), {
      NODE_ID: 'a',
      LOCAL_FALLBACK: '300',
    });
    const c = await LineClient.connect(a.port, t.teardown);
    await proxy.proc.kill('SIGKILL');
    const tickets: string[] = [];
    for (let i = 0; i < 5; i++) tickets.push((await c.ask(`SUBMIT echo alone ${i}`)).slice(3));
    const views: string[] = [];
    for (const tk of tickets) {
      const r = await c.ask(`WAIT ${tk} 10000`);
      t.match(r, /"state":"done".*"node":"a"/, 'ran on the origin itself');
      views.push(r.slice(3));
    }
    const again = await spawnProxy(t.teardown, proxyDir, {}, port);
    const b = await spawnNode(t.teardown, again.port, tempDir(t.teardown), { NODE_ID: 'b' });
    const cb = await LineClient.connect(b.port, t.teardown);
    for (let i = 0; i < tickets.length; i++) {
      const tk = tickets[i]!;
      const fromB = await until(
        async () => {
          const r = await cb.ask(`RESULT ${tk}`);
          return r.startsWith('OK ') ? r.slice(3) : undefined;
        },
        10_000,
        'b to know the ticket',
      );
      t.same(JSON.parse(fromB), JSON.parse(views[i]!), 'every node gives the same result');
    }
  },
);

t.test('a job whose nodes keep dying fails as LOST after maxAttempts', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), { PREFETCH: '0' });
  const origin = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'o',
    SLOTS: '1',
  });
  const c = await LineClient.connect(origin.port, t.teardown);
  const blocker = (await c.ask('SUBMIT sleep 60000')).slice(3);
  await until(async () => (await view(c, blocker)).state === 'running');
  const victim = (await c.ask('SUBMIT {"type":"sleep","args":["60000"],"maxAttempts":2}')).slice(3);
  for (const id of ['x', 'y']) {
    const n = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
      NODE_ID: id,
      SLOTS: '1',
    });
    await until(
      async () => {
        const v = await view(c, victim);
        return v.state === 'running' && v.node === id;
      },
      10_000,
      `the victim running on ${id}`,
    );
    await n.proc.kill('SIGKILL');
  }
  const v = JSON.parse((await c.ask(`WAIT ${victim} 10000`)).slice(3)) as View;
  t.equal(v.state, 'failed');
  t.equal(v.error, 'LOST: its node y left', 'the error says which node left');
  t.equal(v.attempts, 2);
  t.equal((await cluster(proxy.port)).totals.lost, 1);
  t.equal(await c.ask(`CANCEL ${blocker}`), 'OK cancelled');
});

t.test('SIGTERM drains a node: unstarted jobs go back, running ones finish', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'a',
    SLOTS: '1',
  });
  const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'b',
    SLOTS: '1',
  });
  const c = await LineClient.connect(b.port, t.teardown);
  const tickets: string[] = [];
  for (let i = 0; i < 4; i++) tickets.push((await c.ask('SUBMIT sleep 700')).slice(3));
  await until(
    async () => (await cluster(proxy.port)).nodes.find((n) => n.id === 'a')!.outstanding === 2,
  );
  const stopAt = Date.now();
  a.proc.child.kill('SIGTERM');
  t.equal(await a.proc.exited, 0, 'exits cleanly');
  t.comment(`drained and exited in ${Date.now() - stopAt} ms`);
  const nodes = [];
  for (const tk of tickets) {
    const v = JSON.parse((await c.ask(`WAIT ${tk} 20000`)).slice(3)) as View;
    t.equal(v.state, 'done');
    nodes.push(v.node);
  }
  t.equal(
    nodes.filter((n) => n === 'a').length,
    1,
    'a finished the job it was running, and only that',
  );
  t.equal((await cluster(proxy.port)).totals.duplicates, 0);
});

t.test('a second SIGTERM hands running jobs back too; idle processes stop at once', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'a',
    SLOTS: '1',
  });
  const c = await LineClient.connect(a.port, t.teardown);
  const long = (await c.ask('SUBMIT sleep 30000')).slice(3);
  await until(async () => (await view(c, long)).state === 'running');
  a.proc.child.kill('SIGTERM');
  await a.proc.waitFor('stopping: no new jobs');
  a.proc.child.kill('SIGTERM');
  const t0 = Date.now();
  t.equal(await a.proc.exited, 0);
  t.ok(Date.now() - t0 < 5000, 'forced stop is prompt');
  const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'b',
    SLOTS: '1',
  });
  const cb = await LineClient.connect(b.port, t.teardown);
  await until(async () => (await view(cb, long)).node === 'b', 10_000, 'the handed-back job on b');
  t.equal(await cb.ask(`CANCEL ${long}`), 'OK cancelled');

  for (const p of [b.proc, proxy.proc]) {
    const start = Date.now();
    p.child.kill('SIGTERM');
    t.equal(await p.exited, 0);
    t.ok(Date.now() - start < 5000, `an idle process stops promptly (${Date.now() - start} ms)`);
  }
});

t.test('a corrupt database stops the process with a message naming the file', async (t) => {
  for (const which of ['proxy', 'node'] as const) {
    const dir = tempDir(t.teardown);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${which}.db`);
    writeFileSync(file, 'this is not a database, but it was one once'.repeat(200));
    const p = startOnDataDir(which, dir, t.teardown);
    t.equal(await p.exited, 1, `${which} exits non-zero`);
    const msg = p.output.join('\n');
    t.match(msg, /ERR_DB_UNREADABLE/);
    t.match(msg, file, 'names the file');
    t.match(msg, /backup/, 'says what to do');
  }
});

t.test('a stopping node hands back jobs still running after DRAIN_TIMEOUT', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'a',
    SLOTS: '1',
    DRAIN_TIMEOUT: '300',
  });
  const c = await LineClient.connect(a.port, t.teardown);
  const long = (await c.ask('SUBMIT sleep 30000')).slice(3);
  await until(async () => (await view(c, long)).state === 'running');
  const t0 = Date.now();
  a.proc.child.kill('SIGTERM');
  t.equal(await a.proc.exited, 0, 'exits cleanly');
  t.ok(Date.now() - t0 < 5000, `stopped after the drain timeout (${Date.now() - t0} ms)`);
  await a.proc.waitFor('DRAIN_TIMEOUT passed');
  const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'b',
    SLOTS: '1',
  });
  const cb = await LineClient.connect(b.port, t.teardown);
  await until(async () => (await view(cb, long)).node === 'b', 10_000, 'the handed-back job on b');
  t.equal(await cb.ask(`CANCEL ${long}`), 'OK cancelled');
});

t.test(
  'a database that cannot grow: SUBMIT is refused naming the disk, then taken again',
  async (t) => {
    const { nodes } = await startCluster(t.teardown, 1);
    const node = nodes[0]!;
    const fatal: Error[] = [];
    node.onFatal = (err) => fatal.push(err);
    const c = await LineClient.connect(node.clientPort, t.teardown);
    const before = (await c.ask('SUBMIT echo fine')).slice(3);
    // a full disk, as SQLite sees it: no page may be added to the file
    const db = (node as unknown as { db: { pragma(s: string, o?: object): unknown } }).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    const big = 'x'.repeat(16_000);
    let reply = '';
    for (let i = 0; i < 200 && !reply.startsWith('ERR'); i++)
      reply = await c.ask(`SUBMIT echo ${big}`);
    t.match(reply, /^ERR UNAVAILABLE the disk holding .* is full/, 'the client is told why');
    t.match(await c.ask(`RESULT ${before}`), /"state":"done"/, 'an issued ticket still answers');
    db.pragma('max_page_count = 1000000');
    const again = await until(
      async () => {
        const r = await c.ask('SUBMIT echo again');
        return r.startsWith('OK ') ? r.slice(3) : undefined;
      },
      10_000,
      'SUBMIT to be taken again',
    );
    t.match(await c.ask(`WAIT ${again} 10000`), /"state":"done"/);
    t.equal(fatal.length, 0, 'the node never asked to be stopped');
  },
);
