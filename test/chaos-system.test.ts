import t from 'tap';
import { suiteChaos } from './helpers/chaos.js';

// Real processes (dist/): as test/chaos, with the system mix (bench/chaos/job-kinds.ts): delayed
// jobs, jobs sharing keys, retried failures, dependencies, cancels, jobs of tasks and a custom
// type served by `petrel worker` processes, each result held to what its job promises while
// nodes and the proxy are killed with kill -9.
t.setTimeout(180_000);

t.test('chaos, system mix: every job ends as it promises through kill -9', async (t) => {
  const report = await suiteChaos(t, { jobs: 1500, mix: 'system' });

  t.equal(report.tickets, 1500, 'every job got a ticket');
  t.equal(report.lost, 0, 'every ticket ended in the state its job must end in');
  t.equal(report.wrong, 0, 'each result as its job promises');
  t.equal(report.inconsistent, 0, 'its origin and another node give the identical result');
  const kinds = ['after', 'cancel', 'delay', 'echo', 'key', 'retry', 'sleep', 'tasks', 'worker'];
  t.same(Object.keys(report.ended).sort(), kinds, 'every kind of job was held to its promise');
  t.ok(report.nodeKills >= 4, `nodes were killed (${report.nodeKills})`);
  t.equal(report.proxyKills, 1, 'the proxy was killed once');
  t.same(report.problems, [], 'no process died by itself, no request hung');
});
