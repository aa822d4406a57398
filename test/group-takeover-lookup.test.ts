import t from 'tap';
import { LineClient, until } from './helpers/cluster.js';
import {
  clusterOf,
  etcd,
  explainOnFailure,
  leaderOf,
  NO_ETCD,
  readiness,
  startGroup,
  startGroupNodes,
} from './helpers/group.js';

if (!etcd) {
  t.comment(`skipped: ${NO_ETCD}`);
  t.pass('skipped: etcd is absent');
} else {
  t.test(
    'after a takeover, a ticket whose origin has not joined the new leader yet is not NOT_FOUND',
    { timeout: 180_000 },
    async (t) => {
      const g = await startGroup(t.teardown, 2);
      const urls = g.proxies.map((p) => p.url).join(',');
      const [a, b] = await startGroupNodes(t.teardown, urls, 2);
      if (!a || !b) throw new Error('two nodes');
      explainOnFailure(t, () => [
        ...g.proxies.map((p, i) => ({ name: `proxy ${i}`, proc: p.proc })),
        { name: 'node a', proc: a.proc },
        { name: 'node b', proc: b.proc },
      ]);
      const leader = await leaderOf(g.proxies, 2);
      const ca = await LineClient.connect(a.port, t.teardown);
      const cb = await LineClient.connect(b.port, t.teardown);
      const tk = (await ca.ask('SUBMIT echo mine')).slice(3);
      t.match(await ca.ask(`WAIT ${tk} 30000`), /"state":"done"/);
      t.match(await cb.ask(`STATUS ${tk}`, 15_000), /^OK done$/, 'b finds it through the leader');
      // a is frozen, then the leader dies: the next leader hears of a only once a wakes
      a.proc.child.kill('SIGSTOP');
      t.teardown(() => a.proc.child.kill('SIGCONT'));
      await leader.proc.kill('SIGKILL');
      const next = g.proxies.find((p) => p !== leader);
      if (!next) throw new Error('a second proxy');
      await until(async () => (await readiness(next.port))?.role === 'leader', 60_000, 'takeover');
      await until(
        async () => (await clusterOf(next.port)).nodes.some((n) => n.id === 'g2'),
        60_000,
        'b to join the new leader',
      );
      const nodes = (await clusterOf(next.port)).nodes.map((n) => n.id).sort();
      t.same(nodes, ['g1', 'g2'], 'the new leader knows a, away');
      const r = await cb.ask(`STATUS ${tk}`, 15_000);
      t.match(r, /^ERR UNAVAILABLE .*try again/, 'the origin may be a: not a guessed NOT_FOUND');
      a.proc.child.kill('SIGCONT');
      await until(
        async () => (await cb.ask(`STATUS ${tk}`, 15_000)) === 'OK done',
        60_000,
        'b to find it once a joined',
      );
      t.pass('found once its origin joined');
    },
  );
}
