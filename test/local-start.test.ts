import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import type { JobSpec } from '../shared/job.js';
import { JobSpecSchema } from '../shared/job.js';
import { HereResults, mayStartHere, roomHere, UNRECORDED_LIMIT } from '../node/local-start.js';
import {
  freePort,
  LineClient,
  spawnNode,
  spawnProxy,
  startCluster,
  tempDir,
  until,
} from './helpers/cluster.js';
import { echoResult } from './helpers/job-records.js';

const spec = (json: object): JobSpec => JobSpecSchema.parse(json);

t.test('only a plain job of a built-in type may start where it was submitted', async (t) => {
  t.ok(mayStartHere(spec({ type: 'echo', args: ['x'] })));
  t.ok(mayStartHere(spec({ type: 'exec', args: ['true'], tenant: 'a', priority: 5 })));
  const refused: Array<[string, object]> = [
    ['a delay', { type: 'echo', delayMs: 100 }],
    ['a time to run at', { type: 'echo', runAt: Date.now() + 60_000 }],
    ['a schedule', { type: 'echo', cron: '* * * * *' }],
    ['a key', { type: 'echo', key: 'k' }],
    ['dependencies', { type: 'echo', after: ['01JD0000000000000000000000'] }],
    ['labels', { type: 'echo', constraints: { labels: ['gpu'] } }],
    ['resources', { type: 'echo', resources: { cpu: 1 } }],
    ['retries', { type: 'echo', retry: { attempts: 3 } }],
    ['a custom type', { type: 'resize' }],
    ['tasks', { tasks: [{ type: 'echo' }] }],
  ];
  for (const [what, json] of refused) t.notOk(mayStartHere(spec(json)), `not with ${what}`);
});

t.test('room here means a free slot and nothing waiting for one', async (t) => {
  t.ok(roomHere({ free: 1, queued: 0 }));
  t.notOk(roomHere({ free: 0, queued: 0 }), 'every slot busy');
  t.notOk(roomHere({ free: 2, queued: 1 }), 'a prefetched job waits: the proxy has work here');
});

/** The view a node gives of `ticket` (RESULT), parsed. */
async function view(c: LineClient, ticket: string): Promise<Record<string, unknown>> {
  const line = await c.ask(`RESULT ${ticket}`);
  if (!line.startsWith('OK ')) throw new Error(`RESULT ${ticket}: ${line}`);
  return JSON.parse(line.slice(3)) as Record<string, unknown>;
}

t.test('a plain job starts on its origin, and the proxy counts it there', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2, { nodeEnv: { SLOTS: '1' } });
  const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  const c1 = await LineClient.connect(n1.clientPort, t.teardown);
  const c2 = await LineClient.connect(n2.clientPort, t.teardown);
  const load = (id: string) =>
    proxy.scheduler.connectedNodes().find((n) => n.id === id)?.jobs.size ?? -1;

  const first = (await c1.ask('SUBMIT sleep 1500')).replace(/^OK /, '');
  t.equal(n1.snapshot().startedHere, 1, 'started where it was submitted');
  // the proxy hears of it once its ticket is committed, and counts it against n1's slot
  await until(() => load('n1') === 1, 5000, 'the proxy to count the run on n1');
  const seen = await view(c2, first);
  t.equal(seen.state, 'running', 'another node sees it running (the proxy knows it)');
  t.equal(seen.node, 'n1');

  // n1 has no room now: the next job goes through the proxy, which places it on n2
  const second = (await c1.ask('SUBMIT sleep 200')).replace(/^OK /, '');
  t.equal(n1.snapshot().startedHere, 1, 'no room: not started here');
  const w2 = JSON.parse((await c1.ask(`WAIT ${second} 10000`)).slice(3)) as { node: string };
  t.equal(w2.node, 'n2', 'the proxy placed it where a slot was free');

  const w1 = JSON.parse((await c1.ask(`WAIT ${first} 10000`)).slice(3)) as Record<string, unknown>;
  t.equal(w1.state, 'done');
  t.equal(w1.node, 'n1');
  // shown at the origin only once the proxy recorded it: every node gives it from then on
  const remote = await view(c2, first);
  t.equal(remote.state, 'done', 'the result is the cluster’s at once, asked from any node');
  t.equal(remote.node, 'n1');
  t.same(remote.runs, w1.runs, 'its run is listed the same everywhere');
  t.equal(load('n1'), 0, 'the proxy freed n1’s slot');
});

t.test('LOCAL_START=0 sends every job through the proxy', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { LOCAL_START: '0' } });
  const n1 = nodes[0] as (typeof nodes)[0];
  const c = await LineClient.connect(n1.clientPort, t.teardown);
  const ticket = (await c.ask('SUBMIT echo hi')).replace(/^OK /, '');
  t.match(await c.ask(`WAIT ${ticket} 10000`), /"state":"done"/);
  t.equal(n1.snapshot().startedHere, 0);
});

t.test('CANCEL from another node stops a run started on its origin', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2);
  const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  const c1 = await LineClient.connect(n1.clientPort, t.teardown);
  const c2 = await LineClient.connect(n2.clientPort, t.teardown);
  const ticket = (await c1.ask('SUBMIT sleep 20000')).replace(/^OK /, '');
  const onN1 = () => proxy.scheduler.connectedNodes().find((n) => n.id === 'n1')?.jobs.size === 1;
  await until(onN1, 5000, 'the proxy to know the run');
  t.match(await c2.ask(`CANCEL ${ticket}`), /^OK /);
  const end = JSON.parse((await c1.ask(`WAIT ${ticket} 10000`)).slice(3)) as { state: string };
  t.equal(end.state, 'cancelled');
  t.equal(n1.snapshot().running, 0, 'the run was stopped');
});

t.test('an origin killed mid-run: the job runs elsewhere, its result waits for it', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), { NODE_TIMEOUT: '1000' });
  const dirA = tempDir(t.teardown);
  const envA = { NODE_ID: 'a', SLOTS: '1' };
  const a = await spawnNode(t.teardown, proxy.port, dirA, envA);
  const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'b' });
  const ca = await LineClient.connect(a.port, t.teardown);
  const cb = await LineClient.connect(b.port, t.teardown);
  const ticket = (await ca.ask('SUBMIT sleep 3000')).replace(/^OK /, '');
  await until(
    async () => (await view(cb, ticket)).node === 'a',
    5000,
    'the proxy to record the run on a',
  );
  await a.proc.kill('SIGKILL');
  ca.close();
  // the proxy notices a is gone and runs the job on b
  const done = await until(
    async () => {
      const v = await view(cb, ticket);
      return v.state === 'done' ? v : undefined;
    },
    20_000,
    'the job to finish on b',
  );
  t.equal(done.node, 'b');
  const again = await spawnNode(t.teardown, proxy.port, dirA, envA);
  const c = await LineClient.connect(again.port, t.teardown);
  const end = JSON.parse((await c.ask(`WAIT ${ticket} 10000`)).slice(3)) as Record<string, unknown>;
  t.equal(end.state, 'done', 'the origin has the result once back');
  t.equal(end.node, 'b');
});

t.test(
  'an origin paused mid-run while its job runs again elsewhere: every node gives its result',
  async (t) => {
    const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), { NODE_TIMEOUT: '1000' });
    const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
      NODE_ID: 'a',
      SLOTS: '1',
    });
    const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'b' });
    const ca = await LineClient.connect(a.port, t.teardown);
    const cb = await LineClient.connect(b.port, t.teardown);
    const ticket = (await ca.ask('SUBMIT sleep 1500')).replace(/^OK /, '');
    await until(async () => (await view(cb, ticket)).node === 'a', 5000, 'the run recorded on a');
    a.proc.child.kill('SIGSTOP');
    // the proxy takes a for dead and runs the job again on b, to its end
    await until(async () => (await view(cb, ticket)).state === 'done', 20_000, 'a result from b');
    a.proc.child.kill('SIGCONT');
    // a's own run ended while it was paused: its clients see that run, and so must b's
    const own = JSON.parse((await ca.ask(`WAIT ${ticket} 10000`)).slice(3)) as { node: string };
    t.equal(own.node, 'a', 'the origin keeps the run it started');
    const same = await until(
      async () => {
        const [here, there] = [await ca.ask(`RESULT ${ticket}`), await cb.ask(`RESULT ${ticket}`)];
        return here === there ? here : undefined;
      },
      20_000,
      'both nodes to give the same result',
    ).catch(() => undefined);
    t.ok(same, 'another node gives the origin’s result, runs and all');
    t.match(JSON.parse((same ?? 'OK {}').slice(3)), {
      node: 'a',
      runs: [{ node: 'a', attempt: 1 }],
    });
  },
);

/** The report mark in a node's file (see node/report-mark.ts), read beside the running node. */
function storedMark(dataDir: string): string {
  const db = new Database(join(dataDir, 'node.db'), { readonly: true });
  try {
    return (db.prepare('SELECT below FROM report_mark').get() as { below: string }).below;
  } finally {
    db.close();
  }
}

t.test(
  'results decided here and killed with the node before the proxy recorded them: sent on restart',
  async (t) => {
    const port = await freePort();
    const proxyDir = tempDir(t.teardown);
    const proxy = await spawnProxy(t.teardown, proxyDir, {}, port);
    const dirA = tempDir(t.teardown);
    const a = await spawnNode(t.teardown, port, dirA, { NODE_ID: 'a', SLOTS: '4' });
    const b = await spawnNode(t.teardown, port, tempDir(t.teardown), { NODE_ID: 'b' });
    const ca = await LineClient.connect(a.port, t.teardown);
    const cb = await LineClient.connect(b.port, t.teardown);
    const long = (await ca.ask('SUBMIT sleep 600000')).replace(/^OK /, '');
    await until(async () => (await view(cb, long)).node === 'a', 5000, 'the run recorded on a');
    // later jobs end here and the proxy records them: the mark passes the long run's ticket
    for (let i = 0; i < 3; i++) {
      const tk = (await ca.ask(`SUBMIT echo later ${i}`)).replace(/^OK /, '');
      t.match(await ca.ask(`WAIT ${tk} 10000`), /"state":"done"/);
    }
    // a job the proxy places (a delay) commits here with every write queued so far: no move
    // of the mark is left pending once the proxy's acknowledgements came (an echo's WAIT does
    // not wait for them)
    await until(
      async () => {
        const delayed = '{"type":"echo","args":["later"],"delayMs":600000}';
        t.match(await ca.ask(`SUBMIT ${delayed}`), /^OK /);
        return storedMark(dirA) > long;
      },
      10_000,
      'the mark to pass the running ticket',
    );

    await proxy.proc.kill('SIGKILL');
    await a.proc.waitFor('lost the proxy');
    // decided here with no proxy to hear of it: the long run stopped below the mark, and a job
    // cancelled before the proxy ever saw it
    t.match(await ca.ask(`CANCEL ${long}`), /^OK cancelled/);
    const unseen = (await ca.ask('SUBMIT sleep 600000')).replace(/^OK /, '');
    t.match(await ca.ask(`CANCEL ${unseen}`), /^OK cancelled/);
    ca.close();
    await a.proc.kill('SIGKILL');

    await spawnProxy(t.teardown, proxyDir, {}, port);
    await spawnNode(t.teardown, port, dirA, { NODE_ID: 'a', SLOTS: '4' });
    for (const tk of [long, unseen]) {
      const v = await until(
        async () => {
          const r = await cb.ask(`RESULT ${tk}`);
          return r.startsWith('OK ') ? (JSON.parse(r.slice(3)) as Record<string, unknown>) : null;
        },
        20_000,
        `another node to know ${tk}`,
      );
      const end = await until(
        async () => {
          const got = await view(cb, tk);
          return got.state === 'cancelled' ? got : undefined;
        },
        20_000,
        `the proxy to record ${tk} cancelled (last seen ${String(v.state)})`,
      );
      t.equal(end.state, 'cancelled', 'every node gives the result decided on a');
    }
  },
);

t.test(
  'a result started here is shown once on disk here, kept until the proxy records it',
  async (t) => {
    const result = echoResult('x', 1);
    const shown: string[] = [];
    const s = spec({ type: 'echo' });
    const texts = { resultJson: JSON.stringify(result), specJson: JSON.stringify(s) };
    const base = { result, spec: s, submittedAt: 1, ...texts };
    const r = new HereResults();

    r.finished('a', { ...base, reveal: () => shown.push('a') });
    t.same(shown, [], 'not shown before it is on disk here');
    t.ok(r.hidden('a'), 'clients see it running meanwhile');
    r.committed('a');
    t.same(shown, ['a'], 'on disk here: shown, without waiting for the proxy');
    t.notOk(r.hidden('a'));
    t.ok(r.unrecordedHas('a'), 'a HELLO lists it, the sweep does not call it missing');
    t.same(
      [...r.unrecorded()].map(([id]) => id),
      ['a'],
      'and it is sent again',
    );
    t.ok(r.acked('a'));
    t.notOk(r.unrecordedHas('a'), 'forgotten once recorded');
    t.notOk(r.get('a'));

    r.finished('b', { ...base, reveal: () => shown.push('b') });
    t.ok(r.acked('b'), 'recorded by the proxy before its commit here ended');
    t.same(shown, ['a'], 'not shown before it is on disk here');
    t.ok(r.hidden('b'), 'kept until then');
    r.committed('b');
    r.committed('b');
    t.same(shown, ['a', 'b'], 'shown once');
    t.notOk(r.get('b'), 'and forgotten');
    t.notOk(r.acked('zz'), 'a ticket not ended here');
  },
);

t.test('a run started at its origin is shown once on disk there, the proxy paused', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'a' });
  const b = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'b' });
  const ca = await LineClient.connect(a.port, t.teardown);
  const cb = await LineClient.connect(b.port, t.teardown);
  const warm = (await ca.ask('SUBMIT echo warm')).replace(/^OK /, '');
  t.match(await ca.ask(`WAIT ${warm} 10000`), /"state":"done"/, 'the node has joined');

  // the proxy hears of the longer run's placement with its ticket's commit, before the reply
  const slow = (await ca.ask('SUBMIT sleep 200')).replace(/^OK /, '');
  proxy.proc.child.kill('SIGSTOP');
  t.teardown(() => void proxy.proc.child.kill('SIGCONT'));
  // the proxy is paused, the link still open (silent for less than five seconds)
  const echo = (await ca.ask('SUBMIT echo here')).replace(/^OK /, '');
  t.match(await ca.ask(`WAIT ${echo} 2000`), /"output":"here"/, 'an echo, the proxy paused');
  t.match(await ca.ask(`WAIT ${slow} 2000`), /"node":"a"/, 'a run it heard of, too');
  proxy.proc.child.kill('SIGCONT');
  for (const tk of [echo, slow]) {
    const same = await until(
      async () => {
        const [here, there] = [await ca.ask(`RESULT ${tk}`), await cb.ask(`RESULT ${tk}`)];
        return here === there && here.startsWith('OK ') ? here : undefined;
      },
      10_000,
      `both nodes to give the same result of ${tk}`,
    );
    t.match(same, /"state":"done"/, 'the proxy back, every node gives the origin’s result');
  }
});

t.test('tickets of runs started here wait while too many results wait for the proxy', async (t) => {
  const base = { spec: spec({ type: 'echo' }), submittedAt: 1, resultJson: '{}', specJson: '{}' };
  const r = new HereResults();
  for (let i = 0; i < UNRECORDED_LIMIT; i++) {
    r.finished(`a${i}`, { ...base, result: echoResult(`a${i}`, 1), reveal: () => {} });
  }
  const sent: string[] = [];
  r.whenRoom(() => sent.push('down'), false);
  t.same(sent, ['down'], 'without a link, at once');
  r.whenRoom(() => sent.push('x'), true);
  r.whenRoom(() => sent.push('y'), true);
  t.same(sent, ['down'], 'the proxy is behind: the replies wait');
  r.acked('a0');
  t.same(sent, ['down', 'x', 'y'], 'one recorded: under the limit, both go');
  r.whenRoom(() => sent.push('z'), true);
  t.same(sent, ['down', 'x', 'y', 'z'], 'and the next goes at once');
  r.finished('b', { ...base, result: echoResult('b', 1), reveal: () => {} });
  r.whenRoom(() => sent.push('w'), true);
  t.same(sent, ['down', 'x', 'y', 'z'], 'at the limit again');
  r.linkDown();
  t.same(sent, ['down', 'x', 'y', 'z', 'w'], 'the link went down: sent without waiting');
});

t.test('a result recorded and then decided again counts once more, not less', async (t) => {
  const base = { spec: spec({ type: 'echo' }), submittedAt: 1, resultJson: '{}', specJson: '{}' };
  const r = new HereResults();
  const end = (id: string) =>
    r.finished(id, { ...base, result: echoResult(id, 1), reveal: () => {} });
  end('again');
  t.ok(r.acked('again'), 'recorded by the proxy before its commit here');
  end('again'); // decided again: the proxy has yet to record this one
  for (let i = 1; i < UNRECORDED_LIMIT; i++) end(`a${i}`);
  const sent: string[] = [];
  r.whenRoom(() => sent.push('x'), true);
  t.same(sent, [], 'at the limit: the reply waits');
  r.acked('again');
  t.same(sent, ['x'], 'its record makes room');
});
