import t from 'tap';
import { suiteChaos } from './helpers/chaos.js';

// Real processes (dist/): a proxy and three nodes, a random node kill -9'd and restarted about
// every second, the proxy once, while 2,000 jobs go in through six client connections.
t.setTimeout(180_000);

t.test('chaos: kill -9 of nodes and the proxy under load loses nothing', async (t) => {
  const report = await suiteChaos(t, { jobs: 2000 });

  t.equal(report.tickets, 2000, 'every job got a ticket');
  t.equal(report.lost, 0, 'no ticket lost, failed or unfinished');
  t.equal(report.done, report.tickets, 'every ticket has a done result');
  t.equal(report.inconsistent, 0, 'its origin and another node give the identical result');
  t.equal(report.wrong, 0, 'each result belongs to its job');
  t.equal(report.totals.lost ?? 0, 0, 'the proxy failed no job as LOST');
  t.ok(report.nodeKills >= 5, `nodes were killed (${report.nodeKills})`);
  t.equal(report.proxyKills, 1, 'the proxy was killed once');
  t.same(report.problems, [], 'no process died by itself, no request hung');
});
