import { Election, Etcd3 } from 'etcd3';
import t from 'tap';
import { startEtcd } from '../bench/etcd.js';
import { freePorts } from '../bench/ports.js';
import { silentLogger } from '../shared/log.js';
import { EtcdElection } from '../proxy/etcd-election.js';
import { Proc, tempDir, until } from './helpers/cluster.js';
import { etcd, explainOnFailure, NO_ETCD, readiness } from './helpers/group.js';

// Proxies of a group that start at the same moment (a StatefulSet with Parallel pods): who
// leads must be settled and named alike by all, whatever order their keys reach etcd in.

if (!etcd) {
  t.comment(`skipped: ${NO_ETCD}`);
  t.pass('skipped: etcd is absent');
} else {
  t.test('the observer names the oldest key when candidates appear together', async (t) => {
    const server = await startEtcd(etcd as string);
    const client = new Etcd3({ hosts: [server.endpoint] });
    const name = 'together';
    const seen: Array<string | undefined> = [];
    let elected = false;
    const election = new EtcdElection(
      { endpoints: [server.endpoint], name, ttlSeconds: 5, value: 'C', log: silentLogger() },
      {
        elected: () => (elected = true),
        observed: (leader) => seen.push(leader),
        lost: () => {},
        keepaliveSent: () => {},
        keepaliveConfirmed: () => {},
        keepaliveFailed: () => {},
      },
    );
    election.start();
    // two other candidates' keys, A's first, while this one starts watching
    const a = client.lease(5);
    const b = client.lease(5);
    const [idA, idB] = [await a.grant(), await b.grant()];
    t.teardown(async () => {
      // the others' keys go first, and this one wins: a campaign still waiting for an older
      // key keeps a watch open that would outlive the client
      await Promise.all([a.revoke(), b.revoke()]);
      await until(() => elected, 10_000, 'the campaign to win once alone');
      await election.close();
      client.close();
      await server.stop();
    });
    await client.put(`${Election.prefix}/${name}/${idA}`).value('A').lease(idA);
    await client.put(`${Election.prefix}/${name}/${idB}`).value('B').lease(idB);
    const oldest = await client.election(name).leader();
    t.ok(oldest === 'A' || oldest === 'C', `etcd's oldest key is a candidate's (${oldest})`);
    await until(() => seen.at(-1) === oldest, 10_000, `the observer to name ${oldest}`);
    t.pass(`observed in turn: ${seen.join(', ')}`);
  });

  t.test('three proxies started at once: one leads and the others name it', async (t) => {
    const server = await startEtcd(etcd as string);
    t.teardown(() => server.stop());
    const all: Array<{ name: string; proc: Proc }> = [];
    explainOnFailure(t, () => all);
    // a round that settles wrongly stays wrong: each round is one more chance to see it
    for (let round = 0; round < 4; round++) {
      const ports = await freePorts(3);
      const urls = ports.map((port) => `ws://127.0.0.1:${port}/cluster`);
      const procs = ports.map((port, i) =>
        Proc.start(
          'proxy',
          {
            PROXY_HOST: '127.0.0.1',
            PROXY_PORT: String(port),
            DATA_DIR: tempDir(t.teardown, 'petrel-together-'),
            ETCD_ENDPOINTS: server.endpoint,
            ETCD_PREFIX: `together-${round}`,
            PROXY_ADVERTISE_URL: urls[i] as string,
          },
          t.teardown,
        ),
      );
      procs.forEach((proc, i) => all.push({ name: `round ${round} proxy ${i}`, proc }));
      const leader = await until(
        async () => {
          const states = await Promise.all(ports.map((p) => readiness(p)));
          const leaders = states.flatMap((s, i) => (s?.role === 'leader' ? [urls[i]] : []));
          return leaders.length === 1 && states.every((s) => s?.leader === leaders[0])
            ? leaders[0]
            : undefined;
        },
        60_000, // three processes starting at once: over 30 s on a loaded CI machine
        `round ${round}: one leader that every proxy names`,
      );
      t.ok(urls.includes(leader), `round ${round}: ${leader} leads, named by all`);
      await Promise.all(procs.map((p) => p.kill()));
    }
  });
}
