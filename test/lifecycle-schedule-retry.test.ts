import t from 'tap';
import type { PetrelNode } from '../node/node.js';
import { LineClient, startCluster } from './helpers/cluster.js';

t.test('RETRY of a schedule is refused as a bad request, by name', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2);
  const [n1, n2] = nodes as [PetrelNode, PetrelNode];
  const c1 = await LineClient.connect(n1.clientPort, t.teardown);
  const c2 = await LineClient.connect(n2.clientPort, t.teardown);
  const spec = { type: 'echo', args: ['tick'], cron: '*/5 * * * *' };
  const ticket = (await c1.ask(`SUBMIT ${JSON.stringify(spec)}`)).replace(/^OK /, '');
  t.match(await c1.ask(`RETRY ${ticket}`), /^ERR BAD_REQUEST .*schedule/, 'a live schedule');
  t.equal(await c1.ask(`CANCEL ${ticket}`), 'OK cancelled');
  for (const c of [c1, c2]) {
    t.equal(await c.ask(`STATUS ${ticket}`), 'OK cancelled', 'the ticket is known');
    t.match(
      await c.ask(`RETRY ${ticket}`),
      /^ERR BAD_REQUEST \S+ is a schedule: it cannot run again; submit its job again instead$/,
      'a cancelled schedule, from its origin and from another node',
    );
  }
  await t.rejects(proxy.scheduler.retry(ticket), { code: 'BAD_REQUEST' }, 'the dashboard’s RETRY');
  t.match(await c1.ask('RETRY 01M8TTG5GZQDBNG4HKQ7BK37AK'), /^ERR NOT_FOUND /, 'unknown: 404');
});
