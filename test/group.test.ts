import Database from 'better-sqlite3';
import { join } from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { LineClient, until } from './helpers/cluster.js';
import {
  etcd,
  explainOnFailure,
  leaderOf,
  NO_ETCD,
  readiness,
  startGroup,
  startGroupNodes as startNodes,
  type GroupProxy,
} from './helpers/group.js';
import { RECENT_RESULTS_MS } from '../node/recent-results.js';

if (!etcd) {
  t.comment(`skipped: ${NO_ETCD}`);
  t.pass('skipped: etcd is absent');
} else {
  t.test('a group elects one leader; followers refuse nodes and name it', async (t) => {
    const g = await startGroup(t.teardown, 3);
    const urls = g.proxies.map((p) => p.url).join(',');
    const nodes = await startNodes(t.teardown, urls, 2);
    const leader = await leaderOf(g.proxies, 2);
    for (const p of g.proxies.filter((p) => p !== leader)) {
      const r = await readiness(p.port);
      t.same(
        { ready: r?.ready, role: r?.role, leader: r?.leader },
        { ready: false, role: 'follower', leader: leader.url },
        'a follower is not ready and names the leader',
      );
      const refused = await closeOf(p.url);
      t.equal(refused.code, 4010);
      t.equal(refused.reason, `not the leader; leader: ${leader.url}`);
    }
    const c = await LineClient.connect(nodes[0]!.port, t.teardown);
    const tk = (await c.ask('SUBMIT echo through the leader')).slice(3);
    t.match(await c.ask(`WAIT ${tk} 10000`), /"state":"done".*"output":"through the leader"/);
  });

  t.test('a node that comes during an election waits for its outcome', async (t) => {
    const g = await startGroup(t.teardown, 3);
    const urls = g.proxies.map((p) => p.url).join(',');
    await startNodes(t.teardown, urls, 1);
    const old = await leaderOf(g.proxies, 1);
    const others = g.proxies.filter((p) => p !== old);
    await old.proc.kill('SIGKILL');
    // at once, well inside the lease the dead leader still holds, saying which leader it lost
    const lost = `?lost=${encodeURIComponent(old.url)}`;
    const outcomes = await Promise.all(others.map((p) => firstWord(p.url + lost)));
    const next = await leaderOf(others, 1);
    for (const [i, p] of others.entries()) {
      t.same(
        outcomes[i],
        p === next ? 'CHALLENGE' : `4010 not the leader; leader: ${next.url}`,
        p === next ? 'let in by the proxy that won' : 'sent on to the winner, by name',
      );
    }
  });

  t.test(
    'a ticket of a node that is away is unavailable, never unknown, to a new leader',
    async (t) => {
      const g = await startGroup(t.teardown, 2);
      const urls = g.proxies.map((p) => p.url).join(',');
      // the proxy places the job: its origin has the result it pushed, and tells a new leader
      // of it only for a while (a result decided at the origin goes until one records it)
      const nodes = await startNodes(t.teardown, urls, 2, 1, { LOCAL_START: '0' });
      const old = await leaderOf(g.proxies, 2);
      const c0 = await LineClient.connect(nodes[0]!.port, t.teardown);
      const tk = (await c0.ask('SUBMIT echo recorded by the old leader')).slice(3);
      t.match(await c0.ask(`WAIT ${tk} 10000`), /"state":"done"/);
      // older than the results an origin tells a new leader of itself (see RecentResults)
      await new Promise((r) => setTimeout(r, RECENT_RESULTS_MS + 500));
      await old.proc.kill('SIGKILL');
      await leaderOf(
        g.proxies.filter((p) => p !== old),
        2,
      );
      const c1 = await LineClient.connect(nodes[1]!.port, t.teardown);
      t.match(
        await c1.ask(`RESULT ${tk}`, 10_000),
        /"state":"done".*"output":"recorded by the old leader"/,
        'the new leader never saw it: its origin answers',
      );
      await nodes[0]!.proc.kill('SIGTERM');
      t.equal(
        await c1.ask(`RESULT ${tk}`, 10_000),
        'ERR UNAVAILABLE node g1 is away and may have issued this ticket, try again',
        'its origin is away: not "no such ticket"',
      );
    },
  );

  t.test(
    'a paused leader that wakes after losing its lease writes and sends nothing',
    async (t) => {
      const g = await startGroup(t.teardown, 2);
      const urls = g.proxies.map((p) => p.url).join(',');
      const nodes = await startNodes(t.teardown, urls, 2);
      explainOnFailure(t, () => [
        ...g.proxies.map((p, i) => ({ name: `proxy ${i}`, proc: p.proc })),
        ...nodes.map((n, i) => ({ name: `node ${i}`, proc: n.proc })),
      ]);
      const old = await leaderOf(g.proxies, 2);
      const c = await LineClient.connect(nodes[0]!.port, t.teardown);
      const before = (await c.ask('SUBMIT echo before')).slice(3);
      t.match(await c.ask(`WAIT ${before} 10000`), /"state":"done"/);
      // an echo's result is shown once on disk at its origin: the leader records it meanwhile
      const recorded = (row: unknown) => (row as { id: string }).id === before;
      await until(async () => snapshot(old).some(recorded), 10_000, 'the leader to record it');
      old.proc.child.kill('SIGSTOP');
      const rows = snapshot(old);
      // work arrives for the paused leader: frames wait unread in its sockets
      const during: string[] = [];
      for (let i = 0; i < 10; i++) during.push((await c.ask(`SUBMIT echo during ${i}`)).slice(3));
      const other = g.proxies.find((p) => p !== old) as GroupProxy;
      await until(async () => (await readiness(other.port))?.role === 'leader', 60_000, 'takeover');
      old.proc.child.kill('SIGCONT');
      await old.proc.waitFor('no longer leading the proxy group', 60_000);
      t.ok(
        old.proc.output.some((l) => l.includes('the leadership claim lapsed')),
        'it saw why',
      );
      await leaderOf(g.proxies, 2);
      for (const [i, tk] of during.entries()) {
        t.match(await c.ask(`WAIT ${tk} 20000`, 25_000), new RegExp(`"output":"during ${i}"`));
      }
      t.same(snapshot(old), rows, 'the deposed leader recorded nothing after its lease ran out');
      t.equal((await readiness(old.port))?.role, 'follower');
    },
  );
}

/** How a proxy closes a node connection that is still at its CHALLENGE. */
function closeOf(url: string): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on('error', reject);
  });
}

/** What a proxy first says to a node connection: its first frame's type, or its close. */
function firstWord(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('message', (data) => {
      resolve((JSON.parse(data.toString()) as { type: string }).type);
      ws.close();
    });
    ws.on('close', (code, reason) => resolve(`${code} ${reason.toString()}`));
    ws.on('error', reject);
  });
}

/** Every job row of a proxy's file, read without writing. */
function snapshot(p: GroupProxy): unknown[] {
  const db = new Database(join(p.dataDir, 'proxy.db'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT id, state, node, attempt, result, delivered FROM jobs ORDER BY id')
      .all();
  } finally {
    db.close();
  }
}
