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

      t.equal(report.tickets + report.refused, 1500, 'every job got a ticket, or was refused');
      const { key = 0, after = 0, ...others } = report.wrongByKind;
      t.same(others, {}, 'each result as its job promises');
      // what a new leader does not yet do: README, 'Idempotency keys and dependencies are not
      // yet the group's'; seen in some runs, not in others
      const todo = (what: string) => ({ todo: `not yet through a takeover: ${what}` });
      t.equal(key, 0, 'one ticket per key across leaders', todo('keys of jobs ended before'));
      t.equal(after, 0, 'a job waits for any ticket given out, and starts after it', {
        ...todo('a job named in after that ended before the new leader led'),
      });
      t.equal(report.lost, 0, 'every ticket ended in the state its job must end in', {
        ...todo('a key’s ticket given out by a new leader has gone missing'),
      });
      t.equal(report.inconsistent, 0, 'its origin and another node give the identical result', {
        ...todo('a failure retried by a new leader after its origin had shown it'),
      });
      t.equal(report.proxyKills, 1, 'the leader was killed once');
      t.same(report.problems, [], 'no process died by itself, no request hung');
    },
  );
}
