import t from 'tap';
import { suiteChaos } from './helpers/chaos.js';
import { etcdBinary } from '../bench/etcd.js';

// Real processes (dist/) and Debian's etcd: test/chaos-system's mix on three proxies in a
// group, the leader killed with kill -9 halfway (a follower takes over) beside node kills.
t.setTimeout(240_000);

if (!etcdBinary()) {
  t.comment('skipped: etcd is not installed (apt-get install -y etcd-server)');
  t.pass('skipped: etcd is absent');
} else {
  t.test(
    'chaos, system mix, a proxy group: the leader killed, every job as promised',
    async (t) => {
      const report = await suiteChaos(t, {
        jobs: 1500,
        mix: 'system',
        group: true,
        deadlineMs: 200_000,
      });

      t.equal(report.tickets, 1500, 'every job got a ticket');
      t.equal(report.lost, 0, 'every ticket ended in the state its job must end in');
      t.equal(report.inconsistent, 0, 'its origin and another node give the identical result');
      const { key = 0, after = 0, ...others } = report.wrongByKind;
      t.same(others, {}, 'each result as its job promises');
      const known = "README: 'Idempotency keys and dependencies are not yet the group's'";
      t.equal(key, 0, 'one ticket per key across leaders', {
        todo: `a new leader does not know the keys of jobs that ended under another (${known})`,
      });
      t.equal(after, 0, 'a job waits for any ticket the cluster gave out, and starts after it', {
        todo: `a new leader may refuse, or start early, a job waiting for one it has not heard of (${known})`,
      });
      t.equal(report.proxyKills, 1, 'the leader was killed once');
      t.same(report.problems, [], 'no process died by itself, no request hung');
    },
  );
}
